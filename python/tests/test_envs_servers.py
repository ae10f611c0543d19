"""OpenEnv both ways with OpenEnv's own Python client (openenv-core), on loopback:
turnwise's Rust server (`turnwise env serve`) and the repository's Python servers
(`python/servers/serve.py`: echo, TextWorld Text-Nav and cooking, ScienceWorld), plus
turnwise's Rust client playing a Python server (`turnwise play --env openenv`). The
Python servers speak OpenEnv's wire format without openenv-core: its own pydantic models
are the reference their replies are checked against."""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import List, Optional

import pytest
from openenv.core.env_server.serialization import serialize_observation
from openenv.core.env_server.types import Action, Observation, State, WSObservationResponse
from openenv.core.generic_client import GenericEnvClient
from websockets.sync.client import connect

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TURNWISE = os.environ.get("TURNWISE_BIN", os.path.join(ROOT, "target", "debug", "turnwise"))
SERVE = os.path.join(ROOT, "python", "servers", "serve.py")
sys.path.insert(0, os.path.dirname(SERVE))
from games.echo import Echo  # noqa: E402


class TextAction(Action):
    """An action: the policy's text."""

    text: str


class TextObservation(Observation):
    """An observation: the text and turnwise's info fields (OpenEnv drops ``metadata``)."""

    text: str = ""
    success: bool = False
    action_valid: bool = True
    action_effective: bool = True
    terminated: bool = False
    truncated: bool = False
    score: Optional[float] = None
    ground_truth: Optional[str] = None
    state_key: Optional[str] = None
    expert_action: Optional[str] = None
    action_space: List[str] = []
    budget_left: Optional[int] = None
    instructions: Optional[str] = None
    action_format: Optional[str] = None
    stop: Optional[str] = None


class Server:
    """A server process on a free loopback port; stops when the test ends."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), f"server did not start: {line!r}"
        self.url = line[len("listening on "):].strip()

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture
def server(request):
    started = []

    def start(argv):
        s = Server(argv)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def play_expert(url, seed, max_steps=60, **reset):
    """Plays one episode with the expert action the observation carries."""
    with GenericEnvClient(base_url=url, message_timeout_s=120).sync() as env:
        r = env.reset(seed=seed, **reset)
        ret, steps = 0.0, 0
        while not r.done and steps < max_steps:
            a = r.observation["expert_action"]
            assert a is not None, r.observation["text"]
            r = env.step({"text": a})
            ret += r.reward or 0.0
            steps += 1
        return r, ret, steps


def test_openenv_client_plays_turnwise_server(server):
    for env, opts, want in [("tools/kbqa", ["--option", "hops=3"], 1.0), ("lmrl/maze-fo", [], None)]:
        s = server([TURNWISE, "env", "serve", "--env", env, "--port", "0", *opts])
        r, ret, steps = play_expert(s.url, seed=5, max_steps=200)
        assert r.done and r.observation["success"]
        if want is not None:
            assert ret == want and steps == 7
        with GenericEnvClient(base_url=s.url).sync() as c:
            first = c.reset(seed=5).observation
            assert first["text"] and "instructions" in first
            st = c.state()
            assert st["seed"] == 5


def test_turnwise_server_reports_bad_actions(server):
    s = server([TURNWISE, "env", "serve", "--env", "lmrl/maze-fo", "--port", "0"])
    with GenericEnvClient(base_url=s.url).sync() as c:
        c.reset(seed=0)
        with pytest.raises(RuntimeError, match="text"):
            c.step({"txt": "move up"})
        r = c.step({"text": "fly"})
        assert r.observation["action_valid"] is False and r.reward == -4


def test_python_server_sessions_and_turnwise_client(server):
    s = server([sys.executable, SERVE, "--game", "echo", "--port", "0", "--workers", "2"])
    r, ret, steps = play_expert(s.url, seed=1)
    assert r.observation["success"] and ret == 3.0 and steps == 3
    # turnwise's client (Rust) plays the same server: typed words are the policy's lines.
    with GenericEnvClient(base_url=s.url).sync() as c:
        words = []
        r = c.reset(seed=1)
        while not r.done:
            words.append(r.observation["expert_action"])
            r = c.step({"text": words[-1]})
    out = subprocess.run(
        [TURNWISE, "play", "--env", "openenv", "--option", f"url={s.url}", "--seed", "1"],
        input="".join(w + "\n" for w in words), capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Repeat each word you are shown." in out.stdout
    assert "episode over (terminated), return 3" in out.stdout


def openenv_reply(fields):
    """The bytes openenv-core's own WebSocket endpoint sends for a backend's fields."""
    return WSObservationResponse(data=serialize_observation(TextObservation(**fields))).model_dump_json()


def http(url, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_python_server_speaks_openenv_wire_format(server):
    """The lean server's replies are byte for byte what openenv-core's pydantic models
    give; its errors carry OpenEnv's codes; its GET routes answer as openenv-core's."""
    s = server([sys.executable, SERVE, "--game", "echo", "--port", "0", "--workers", "2",
                "--option", "length=4"])
    ref = Echo(Echo.resolve({"length": "4"}))
    ws_url = s.url.replace("http://", "ws://") + "/ws"
    with connect(ws_url) as ws:
        ws.send(json.dumps({"type": "reset", "data": {"seed": 7, "episode_id": "e7"}}))
        first = ref.reset(7)
        assert ws.recv() == openenv_reply(first)
        for word in [first["expert_action"], "wrong"]:
            ws.send(json.dumps({"type": "step", "data": {"text": word}}))
            assert ws.recv() == openenv_reply(ref.step(word))
        ws.send(json.dumps({"type": "state"}))
        assert json.loads(ws.recv()) == {"type": "state", "data": {"episode_id": "e7", "step_count": 2}}
        for bad, code in [("{not json", "INVALID_JSON"), ('{"type": "jump"}', "UNKNOWN_TYPE"),
                          ('{"type": "step", "data": {"txt": "a"}}', "VALIDATION_ERROR"),
                          ('{"type": "step", "data": {"text": 3}}', "VALIDATION_ERROR"),
                          ('{"type": "step"}', "VALIDATION_ERROR"),
                          ('{"type": "state", "data": {}}', "VALIDATION_ERROR")]:
            ws.send(bad)
            reply = json.loads(ws.recv())
            assert reply["type"] == "error" and reply["data"]["code"] == code, (bad, reply)
        ws.send(json.dumps({"type": "close"}))
        with pytest.raises(Exception):
            ws.recv(timeout=30)  # the server closes the session
    # OpenEnv's own client: reset, step, state, and a server error as its RuntimeError.
    with GenericEnvClient(base_url=s.url).sync() as c:
        r = c.reset(seed=7)
        assert r.observation == json.loads(openenv_reply(first))["data"]["observation"]
        r = c.step({"text": r.observation["expert_action"]})
        assert r.reward == 1.0 and not r.done
        assert c.state() == {"episode_id": None, "step_count": 1}
        with pytest.raises(RuntimeError, match="VALIDATION_ERROR"):
            c.step({"txt": "a"})
    assert http(s.url + "/health") == (200, {"status": "healthy"})
    code, meta = http(s.url + "/metadata")
    assert code == 200 and meta["name"] == "Echo" and meta["description"] == Echo.DOC
    code, schema = http(s.url + "/schema")
    assert code == 200 and schema == {"action": TextAction.model_json_schema(),
                                      "observation": TextObservation.model_json_schema(),
                                      "state": State.model_json_schema()}
    assert http(s.url + "/state") == (200, {"episode_id": None, "step_count": 0})
    assert http(s.url + "/nothing")[0] == 404
    assert http(s.url + "/reset", "POST")[0] == 405


def test_python_server_capacity(server):
    """At most --max-sessions sessions across the workers (the second lands on the other,
    idle worker and is still refused)."""
    s = server([sys.executable, SERVE, "--game", "echo", "--port", "0", "--workers", "2",
                "--max-sessions", "1"])
    ws_url = s.url.replace("http://", "ws://") + "/ws"
    with connect(ws_url) as first:
        first.send(json.dumps({"type": "reset", "data": {"seed": 0}}))
        assert json.loads(first.recv())["type"] == "observation"
        with connect(ws_url) as second:
            reply = json.loads(second.recv(timeout=30))
            assert reply["data"]["code"] == "CAPACITY_REACHED" and reply["data"]["max_sessions"] == 1
    time.sleep(0.5)  # the server has seen both connections end
    with GenericEnvClient(base_url=s.url).sync() as c:
        assert c.reset(seed=0).observation["text"]


def test_python_server_health_check_takes_no_session_slot(server):
    """A health check in flight (its request not complete yet) while the one session slot
    is free: a session opened meanwhile gets the slot, and the check still answers."""
    s = server([sys.executable, SERVE, "--game", "echo", "--port", "0", "--workers", "1",
                "--max-sessions", "1"])
    host, port = s.url[len("http://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as check:
        check.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # the blank line comes later
        with connect(s.url.replace("http://", "ws://") + "/ws") as ws:
            ws.send(json.dumps({"type": "reset", "data": {"seed": 0}}))
            reply = json.loads(ws.recv(timeout=30))
            assert reply["type"] == "observation", reply
            check.sendall(b"\r\n")
            head = check.recv(4096)
            assert head.startswith(b"HTTP/1.1 200"), head


def test_worker_polls_only_for_fast_clients():
    """The worker's selector polls before sleeping only while events come soon after it
    starts waiting (a fast client); one late event or a timeout turns polling off."""
    from worker import _PollingSelector

    a, b = socket.socketpair()
    sel = _PollingSelector(most=5.0)
    sel.register(a, selectors.EVENT_READ)
    try:
        assert sel.budget == 0.0
        b.send(b"x")  # ready at once: well within `most`
        assert sel.select(None)
        a.recv(1)
        first = sel.budget
        assert first > 0.0
        b.send(b"x")  # found while polling: the budget stays
        assert sel.select(None)
        a.recv(1)
        assert sel.budget == first
        threading.Timer(0.05, b.send, (b"x",)).start()  # after the poll, within `most`: it grows
        assert sel.select(None)
        a.recv(1)
        assert first < sel.budget <= 5.0
        assert sel.select(0.01) == []  # nothing came: a slow client
        assert sel.budget == 0.0
        off = _PollingSelector(most=0.0)
        off.register(a, selectors.EVENT_READ)
        b.send(b"x")
        assert off.select(None) and off.budget == 0.0
    finally:
        sel.close()
        a.close()
        b.close()


def test_python_server_killed_mid_step_workers_exit_quietly():
    """A server killed while its worker is stepping: the client gets an error (no hang) and
    the orphaned worker sees its pipe gone and exits without a traceback."""
    p = subprocess.Popen([sys.executable, SERVE, "--game", "echo", "--port", "0", "--workers", "1",
                          "--option", "delay=5"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = p.stdout.readline()[len("listening on "):].strip()
        stepping, errors = threading.Event(), []

        def play():
            try:
                with GenericEnvClient(base_url=url, message_timeout_s=60).sync() as c:
                    r = c.reset(seed=1)
                    stepping.set()
                    c.step({"text": r.observation["expert_action"]})
            except Exception as e:  # the connection closes under it
                errors.append(e)

        t = threading.Thread(target=play)
        t.start()
        assert stepping.wait(120)
        time.sleep(1.0)  # the worker is inside its 5 s step
        p.kill()
        t.join(120)
        assert not t.is_alive() and errors
        _, err = p.communicate(timeout=120)  # EOF once the orphaned worker has exited too
    finally:
        p.kill()
    assert "Traceback" not in err, err


def test_textworld_text_nav_expert_wins(server):
    s = server([sys.executable, SERVE, "--game", "textworld-text-nav", "--port", "0", "--workers", "1"])
    r, ret, steps = play_expert(s.url, seed=3)
    assert r.observation["success"] and ret == 1.0
    assert "Admissible commands:" in r.observation["text"]
    assert steps <= 15


def test_textworld_cooking_expert_wins(server):
    s = server([sys.executable, SERVE, "--game", "textworld-cooking", "--port", "0", "--workers", "1",
                "--option", "games=1"])
    r, ret, steps = play_expert(s.url, seed=0)
    assert r.observation["success"] and abs(ret - 1.0) < 1e-9


def test_scienceworld_gold_path_scores_100(server):
    s = server([sys.executable, SERVE, "--game", "scienceworld", "--port", "0", "--workers", "1",
                "--option", "max_steps=60"])
    r, ret, steps = play_expert(s.url, seed=0, max_steps=60)
    assert r.observation["success"] and r.observation["score"] == 100.0
    assert abs(ret - 1.0) < 1e-9


def test_env_bench_alternates_server_and_in_process():
    """`turnwise env bench` on a hosted game: the same expert episodes through the server
    and in-process in one run, with steps, ratios and CPU time of both sides (no timing is
    asserted)."""
    out = subprocess.run([TURNWISE, "env", "bench", "--env", "textworld/text-nav", "--episodes", "2",
                          "--rounds", "2"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rounds = [ln for ln in out.stdout.splitlines() if " round " in ln]
    assert len(rounds) == 2, out.stdout
    for ln in rounds:
        steps = int(ln.split(" steps a side")[0].rsplit("(", 1)[1])
        assert steps > 0 and "+ server" in ln and "vs in-process" in ln, ln
    assert "median in-process/server ratio" in out.stdout.splitlines()[-1], out.stdout

