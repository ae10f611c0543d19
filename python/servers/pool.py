"""A pool of worker processes hosting text-game backends behind OpenEnv sessions.

Each OpenEnv session (one WebSocket connection) gets its own backend instance inside one of
``workers`` processes (the least loaded when the session opens), so sessions on different
workers step in parallel without sharing Python's GIL. A worker keeps closed backends for
reuse (a ScienceWorld backend holds a JVM; a TextWorld backend a game interpreter).
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import threading
import traceback
import uuid
from typing import Any, Callable, Dict, List, Optional

from openenv.core.env_server import Action, Environment, Observation, State


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


# The pipe to the server is gone: it exited or was killed. A worker killed with its reply
# unread sees ECONNRESET on its next read, one killed mid-step EPIPE on its reply; either
# way nobody is left to answer, so the worker ends quietly (backend errors are not these:
# they go back to their session).
_PARENT_GONE = (EOFError, ConnectionResetError, BrokenPipeError)


def _worker(conn, make_backend: Callable[[], Any]) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the server shuts down and the
    # worker follows when its pipe closes, instead of each worker printing KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    backends: Dict[str, Any] = {}
    spare: List[Any] = []
    try:
        conn.send(("ready", None))  # imports are done: the server may announce itself
        while True:
            op, sid, arg = conn.recv()
            if op == "exit":
                break
            try:
                reply = ("ok", _serve(backends, spare, make_backend, op, sid, arg))
            except Exception as e:  # the session gets the error; the worker lives on
                reply = ("err", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")
            try:
                conn.send(reply)
            except _PARENT_GONE:
                raise
            except Exception as e:  # a result that does not pickle: nothing was sent yet
                conn.send(("err", f"{op} result not sendable: {type(e).__name__}: {e}"))
    except _PARENT_GONE:
        pass
    finally:
        for b in list(backends.values()) + spare:
            try:
                b.close()
            except Exception:
                pass


def _serve(backends: Dict[str, Any], spare: List[Any], make_backend, op: str, sid: str, arg: Any):
    """One request of the server to a worker: the backend call's result."""
    if op == "open":
        backends[sid] = spare.pop() if spare else make_backend()
        return None
    if op == "reset":
        return backends[sid].reset(arg)
    if op == "step":
        return backends[sid].step(arg)
    if op == "close":
        b = backends.pop(sid, None)
        if b is not None:
            spare.append(b)
        return None
    raise ValueError(f"unknown op {op}")


class Pool:
    """``workers`` processes, each hosting the backends of the sessions assigned to it."""

    def __init__(self, make_backend: Callable[[], Any], workers: int):
        ctx = mp.get_context("spawn")
        self.conns = []
        self.procs = []
        self.locks = []
        self.load = [0] * workers
        self.lock = threading.Lock()
        for _ in range(workers):
            a, b = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(b, make_backend), daemon=True)
            p.start()
            self.conns.append(a)
            self.procs.append(p)
            self.locks.append(threading.Lock())
        for c in self.conns:
            status, _ = c.recv()
            assert status == "ready", status

    def call(self, w: int, op: str, sid: str, arg: Any = None) -> Any:
        with self.locks[w]:
            try:
                self.conns[w].send((op, sid, arg))
                status, out = self.conns[w].recv()
            except _PARENT_GONE as e:  # the worker died (killed, or its backend crashed it)
                raise RuntimeError(f"server worker {w} exited ({type(e).__name__})") from e
        if status == "err":
            raise RuntimeError(out)
        return out

    def assign(self) -> int:
        with self.lock:
            w = min(range(len(self.load)), key=lambda i: self.load[i])
            self.load[w] += 1
            return w

    def release(self, w: int) -> None:
        with self.lock:
            self.load[w] -= 1


def session_class(pool: Pool, name: str):
    """An OpenEnv ``Environment`` class whose instances are sessions on ``pool``."""

    class PooledEnv(Environment):
        SUPPORTS_CONCURRENT_SESSIONS = True

        def __init__(self):
            super().__init__()
            self.sid = uuid.uuid4().hex
            self.w = pool.assign()
            self.steps = 0
            self.episode_id: Optional[str] = None
            self.closed = False
            pool.call(self.w, "open", self.sid)

        def reset(self, seed: Optional[int] = None, episode_id: Optional[str] = None, **kwargs):
            self.steps = 0
            self.episode_id = episode_id
            fields = pool.call(self.w, "reset", self.sid, 0 if seed is None else int(seed))
            return TextObservation(**fields)

        def step(self, action: TextAction, timeout_s=None, **kwargs):
            self.steps += 1
            fields = pool.call(self.w, "step", self.sid, action.text)
            return TextObservation(**fields)

        @property
        def state(self) -> State:
            return State(episode_id=self.episode_id, step_count=self.steps)

        def close(self):
            if not self.closed:
                self.closed = True
                try:
                    pool.call(self.w, "close", self.sid)
                finally:
                    pool.release(self.w)

    PooledEnv.__name__ = name
    return PooledEnv
