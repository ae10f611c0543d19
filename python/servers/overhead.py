"""Where a served step's time goes: a hosted game played episode by episode in-process and
through ``serve.py`` (one worker each, a raw ``websockets`` client), alternating within one
process so all sides see the same load, with wall-clock and CPU time per step.

    python python/servers/overhead.py --game textworld-text-nav --episodes 16 --rounds 5 \\
        --poll-us 0 --poll-us 200

One server per ``--poll-us`` value (the worker's polling before it sleeps; default: one
server with serve.py's default). Per round: ms per step of every side (stepping only), the
served/in-process wall ratio, and CPU ms per step of this client, of each server's
processes (Linux ``/proc``) and of the in-process loop (whole episodes, resets included on
all sides). A wall ratio well above the CPU ratio is time spent waiting to run
(scheduling, wake-ups), not work. The client here is Python (about 0.8 ms of CPU per step);
turnwise's is lighter.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import games  # noqa: E402
from bench import play  # noqa: E402
from serve import parse_options  # noqa: E402


def proc_cpu(pids) -> float:
    """User + system CPU seconds of ``pids`` (0.0 where ``/proc`` is missing)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


class Served:
    """One server (one worker) and a session on it."""

    def __init__(self, game: str, options, poll_us):
        from websockets.sync.client import connect

        serve = os.path.join(os.path.dirname(os.path.abspath(__file__)), "serve.py")
        argv = [sys.executable, serve, "--game", game, "--port", "0", "--workers", "1"]
        if poll_us is not None:
            argv += ["--poll-us", str(poll_us)]
        for kv in options or []:
            argv += ["--option", kv]
        self.name = "served" if poll_us is None else f"served(poll {poll_us:g} us)"
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        url = self.proc.stdout.readline().split("listening on ", 1)[1].strip()
        self.pids = [self.proc.pid]
        if os.path.exists(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"):  # the worker
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                self.pids += f.read().split()
        self.ws = connect(url.replace("http://", "ws://") + "/ws", compression=None, max_size=None)

    def __call__(self, seed):
        ws = self.ws
        ws.send(json.dumps({"type": "reset", "data": {"seed": seed}}))
        d = json.loads(ws.recv())["data"]
        n, t = 0, 0.0
        while d["observation"].get("expert_action") is not None and not d["done"]:
            t0 = time.perf_counter()
            ws.send(json.dumps({"type": "step", "data": {"text": d["observation"]["expert_action"]}}))
            d = json.loads(ws.recv())["data"]
            t += time.perf_counter() - t0
            n += 1
        return n, t

    def close(self):
        self.ws.close()
        self.proc.kill()
        self.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--game", required=True, choices=sorted(games.GAMES))
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--option", action="append")
    ap.add_argument("--poll-us", type=float, action="append", help="one server per value (repeatable)")
    a = ap.parse_args()
    game = games.GAMES[a.game]
    backend = game(game.resolve(parse_options(a.option)))
    servers = []
    try:
        for p in a.poll_us or [None]:
            servers.append(Served(a.game, a.option, p))

        def in_process(seed):
            return play(backend, seed, 1)[:2]

        sides = [in_process, *servers]
        for seed in range(a.episodes):  # warm-up: games loaded, JIT and caches warm on all sides
            for side in sides:
                side(seed)
        walls = {s: [] for s in servers}
        cpus = {s: [] for s in servers}
        for r in range(a.rounds):
            acc = {side: [0, 0.0, 0.0] for side in sides}  # steps, wall, CPU (client + its server)
            for seed in range(a.episodes):
                k = (seed + r) % len(sides)  # each side goes first in turn
                for side in sides[k:] + sides[:k]:
                    pids = getattr(side, "pids", [])
                    c0, s0 = time.process_time(), proc_cpu(pids)
                    n, t = side(seed)
                    x = acc[side]
                    x[0] += n
                    x[1] += t
                    x[2] += time.process_time() - c0 + proc_cpu(pids) - s0
            m, ti, ci = acc[in_process]
            line = [f"round {r}: {m} steps a side; in-process {1e3 * ti / m:.2f} ms/step wall, {1e3 * ci / m:.2f} CPU"]
            for s in servers:
                n, ts, cs = acc[s]
                assert n == m, (n, m)
                walls[s].append(ts / ti)
                cpus[s].append(cs / ci)
                line.append(f"{s.name} {1e3 * ts / n:.2f} wall (ratio {walls[s][-1]:.3f}), {1e3 * cs / n:.2f} CPU "
                            f"(ratio {cpus[s][-1]:.3f})")
            print("; ".join(line), flush=True)
        for s in servers:
            print(f"{a.game} {s.name}: median served/in-process wall ratio {statistics.median(walls[s]):.3f}, "
                  f"CPU ratio {statistics.median(cpus[s]):.3f} over {a.rounds} rounds")
    finally:
        for s in servers:
            s.close()
        backend.close()


if __name__ == "__main__":
    main()
