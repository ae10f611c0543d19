"""A worker process of the pool: it serves the connections the server hands it, each
session's game backend living in this process, so a step goes client -> worker -> client
with no other hop.

The server sends each accepted TCP connection's file descriptor over a Unix socket
(``socket.send_fds``); the worker speaks HTTP and WebSocket on it with the Sans-I/O layer of
the ``websockets`` library (``ServerProtocol``: handshake, frames, pings, the closing
handshake) inside an asyncio protocol, answers each message as it arrives, and tells the
server when a connection ends, so the server knows each worker's load. ``GET /ws`` opens a
session once the server grants one (the server counts the sessions of all workers against
``--max-sessions``; ``pool.py``); the other GET routes answer JSON (``wire.routes``) and take
no session slot. Sessions on one worker
take turns (one GIL); sessions on different workers step in parallel. A worker keeps closed
backends for reuse (a ScienceWorld backend holds a JVM, a TextWorld one a game interpreter)
and closes them all when it exits, which it does as soon as the server's end of the Unix
socket closes (the server exited or was killed), even in the middle of a step.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import socket
import threading
import time
from http import HTTPStatus
from typing import Any, Callable, Dict, List, Optional, Tuple

from websockets.frames import Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

import wire

_MAX_MESSAGE = 64 * 1024 * 1024
_CLOSE_TIMEOUT_S = 10.0  # a client that never finishes the closing handshake is cut off


class _Backends:
    """The game backends of this worker's sessions and the spare ones kept for reuse."""

    def __init__(self, make_backend: Callable[[], Any]):
        self.make_backend = make_backend
        self.spare: List[Any] = []
        self.live: List[Any] = []

    def open(self):
        b = self.spare.pop() if self.spare else self.make_backend()
        self.live.append(b)
        return b

    def release(self, b) -> None:
        self.live.remove(b)
        self.spare.append(b)

    def close_all(self) -> None:
        for b in self.live + self.spare:
            try:
                b.close()
            except Exception:
                pass


class _Session:
    """One OpenEnv session: a backend, the episode id of the last reset and the steps since."""

    def __init__(self, backend):
        self.backend = backend
        self.episode_id: Optional[str] = None
        self.steps = 0

    def reply(self, kind: str, data: Dict[str, Any]) -> str:
        """The reply to a reset, step or state message."""
        if kind == "reset":
            seed = data.get("seed")
            self.episode_id = data.get("episode_id")
            self.steps = 0
            return wire.observation(self.backend.reset(0 if seed is None else int(seed)))
        if kind == "step":
            text, err = wire.action_text(data)
            if err is not None:
                return err
            self.steps += 1
            return wire.observation(self.backend.step(text))
        return wire.state(self.episode_id, self.steps)


def _json(response):
    """A response of ``ServerProtocol.reject`` as JSON (its body is the text given)."""
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response


class _Connection(asyncio.Protocol):
    """One handed-over connection: an HTTP request, or a WebSocket session."""

    def __init__(self, worker: "_Worker"):
        self.worker = worker
        self.ws = ServerProtocol(max_size=_MAX_MESSAGE)
        self.session: Optional[_Session] = None
        self.upgrade = None  # the /ws handshake's response while the server decides on a slot
        self.granted = False  # holds one of the server's session slots
        self.lost = False
        self.parts: List[bytes] = []  # a fragmented message so far
        self.transport = None
        self.closing = False
        self.head: Optional[bytes] = b""  # the request's first bytes, until its method is known

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            # Only GET is served, and websockets' parser drops other methods without a
            # word: anything else gets 405 and the connection closes.
            self.head += data
            if len(self.head) < 4 and b" " not in self.head:
                return
            data, self.head = self.head, None
            if not data.startswith(b"GET "):
                r = _json(self.ws.reject(HTTPStatus.METHOD_NOT_ALLOWED, wire.dumps({
                    "detail": "Method Not Allowed: this server has OpenEnv sessions on /ws and GET /health, "
                              "/metadata, /schema and /state (no stateless POST /reset or /step)"})))
                self.transport.write(r.serialize())
                self.transport.close()
                return
        self.ws.receive_data(data)
        self._events()

    def eof_received(self):
        self.ws.receive_eof()
        self._events()
        return None  # asyncio closes the transport

    def connection_lost(self, exc) -> None:
        self.lost = True
        self._end_session()
        self.worker.note(b"c")

    def _events(self) -> None:
        for ev in self.ws.events_received():
            if isinstance(ev, Request):
                self._request(ev)
            elif ev.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                self.parts.append(ev.data)
                if ev.fin:
                    raw, self.parts = b"".join(self.parts), []
                    self._message(raw)
            # pings, pongs and close frames: ServerProtocol answers them itself
        self._flush()

    def _flush(self) -> None:
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                self.transport.write_eof()
        if self.ws.close_expected() and not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_later(_CLOSE_TIMEOUT_S, self.transport.abort)

    def _request(self, request) -> None:
        path = request.path.split("?", 1)[0]
        if path == "/ws":
            response = self.ws.accept(request)
            if response.status_code == HTTPStatus.SWITCHING_PROTOCOLS:
                # Sent when the server grants or refuses a session slot (``answer``).
                self.upgrade = response
                self.worker.ask(self)
                return
        else:
            body = self.worker.routes.get(path)
            status = HTTPStatus.OK if body is not None else HTTPStatus.NOT_FOUND
            response = _json(self.ws.reject(status, body or wire.dumps({"detail": "Not Found"})))
        self.ws.send_response(response)

    def answer(self, full: Optional[Tuple[int, int]]) -> None:
        """The server's answer to this connection's session request: granted (``None``) or
        ``(active, max)`` at capacity. As openenv-core, the upgrade is accepted either way
        and a refused session gets the error, then the close."""
        self.granted = full is None
        if self.lost:
            self._end_session()  # the client left while waiting: the slot goes back
            return
        self.ws.send_response(self.upgrade)
        self.upgrade = None
        self._flush()  # the handshake completes before a slow game (a JVM) starts
        if full is not None:
            active, most = full
            self._close_with(wire.error(
                f"Server at capacity: {active}/{most} sessions active. Cannot accept new connections.",
                "CAPACITY_REACHED", active_sessions=active, max_sessions=most))
        else:
            try:
                self.session = _Session(self.worker.backends.open())
            except Exception as e:
                self._close_with(wire.error(f"could not start the game: {type(e).__name__}: {e}", "FACTORY_ERROR"))
        self._flush()

    def _close_with(self, reply: Optional[str]) -> None:
        # A client that sends "close" and then its close frame in one read leaves the
        # connection already closing: nothing more can be sent, only the session ended.
        if self.ws.state is State.OPEN:
            if reply is not None:
                self.ws.send_text(reply.encode())
            self.ws.send_close(1000)
        self._end_session()

    def _end_session(self) -> None:
        if self.session is not None:
            self.worker.backends.release(self.session.backend)
            self.session = None
        if self.granted:
            self.granted = False
            self.worker.note(b"e")

    def _message(self, raw: bytes) -> None:
        if self.session is None:
            return  # closing: nothing more is answered
        kind, data, reply = wire.parse(raw)
        if kind == "close":
            self._close_with(None)
            return
        if reply is None:
            try:
                reply = self.session.reply(kind, data)
            except Exception as e:  # the game's error goes to its session
                reply = wire.error(f"{type(e).__name__}: {e}", "EXECUTION_ERROR")
        self.ws.send_text(reply.encode())


class _PollingSelector(selectors.DefaultSelector):
    """The event loop's selector, polling briefly before it sleeps.

    A worker that sleeps between two requests of a fast client pays a wake-up per step
    (on a virtual machine an idle virtual CPU halts and waking it is slow). So before
    blocking, it polls for up to ``budget`` seconds. The budget adapts as Linux's KVM
    halt-polling does: it grows (10 µs, doubling up to ``most``) while the next event comes
    within ``most`` of starting to wait, and drops to 0 as soon as one does not (a trainer
    that generates between steps), so a worker with slow clients never spins."""

    def __init__(self, most: float):
        super().__init__()
        self.most = most
        self.budget = 0.0

    def select(self, timeout=None):
        if self.most <= 0 or timeout is not None and timeout <= 0:
            return super().select(timeout)
        start = time.perf_counter()
        if self.budget > 0:
            while True:
                ready = super().select(0)
                if ready:
                    return ready
                if time.perf_counter() - start >= self.budget:
                    break
        ready = super().select(timeout)
        if ready and time.perf_counter() - start <= self.most:
            self.budget = min(self.most, max(10e-6, 2 * self.budget))
        else:
            self.budget = 0.0
        return ready


class _Worker:
    """This process's backends, routes and the socket to the server."""

    def __init__(self, ctrl: socket.socket, make_backend, name: str, doc: str):
        self.ctrl = ctrl
        self.backends = _Backends(make_backend)
        self.routes = wire.routes(name, doc)
        self.asking: Dict[int, _Connection] = {}  # session requests the server has not answered
        self.next_id = 0

    def note(self, msg: bytes) -> None:
        """Tells the server something (``pool.py``): ``c`` a connection ended, ``e`` a
        session ended, ``?ID`` a session is requested."""
        try:
            self.ctrl.send(msg)
        except OSError:
            pass

    def ask(self, conn: _Connection) -> None:
        """Asks the server for a session slot for ``conn``; ``answer`` gets the reply."""
        self.next_id += 1
        self.asking[self.next_id] = conn
        self.note(b"?%d" % self.next_id)

    def answer(self, msg: bytes) -> None:
        """The server's ``g ID`` or ``n ID ACTIVE MAX``."""
        parts = msg[1:].split()
        conn = self.asking.pop(int(parts[0]), None)
        if conn is not None:
            conn.answer(None if msg.startswith(b"g") else (int(parts[1]), int(parts[2])))


def run(ctrl: socket.socket, make_backend: Callable[[], Any], name: str, doc: str, poll_s: float = 0.0) -> None:
    """The worker's main: serves handed-over connections until the server goes away;
    ``poll_s``: the most it polls before sleeping (``_PollingSelector``)."""
    # Ctrl-C in a terminal reaches the whole process group: the server shuts down and the
    # worker follows when the server's end of ``ctrl`` closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def on_term(*_):
        raise SystemExit(0)  # asyncio lets SystemExit through its callbacks

    signal.signal(signal.SIGTERM, on_term)
    worker = _Worker(ctrl, make_backend, name, doc)
    loop = asyncio.SelectorEventLoop(_PollingSelector(poll_s))
    asyncio.set_event_loop(loop)

    async def adopt(sock: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(lambda: _Connection(worker), sock)
        except OSError:
            sock.close()
            worker.note(b"c")

    main_thread = threading.main_thread().ident

    def receive():
        # Connections from the server until its end of ``ctrl`` closes; then the main
        # thread is interrupted (a blocking step included) and the worker exits.
        try:
            while True:
                msg, fds, _, _ = socket.recv_fds(ctrl, 64, 1)
                if not msg:
                    break
                for fd in fds:
                    asyncio.run_coroutine_threadsafe(adopt(socket.socket(fileno=fd)), loop)
                if msg[:1] in (b"g", b"n"):
                    loop.call_soon_threadsafe(worker.answer, msg)
        except OSError:
            pass
        signal.pthread_kill(main_thread, signal.SIGTERM)

    threading.Thread(target=receive, daemon=True).start()
    try:
        ctrl.send(b"r")  # imports are done: the server may announce itself
        loop.run_forever()
    except SystemExit:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        worker.backends.close_all()
        # Open connections close with the process: no handshakes, no tracebacks.
        os._exit(0)
