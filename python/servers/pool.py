"""The server's pool of worker processes (the server side; ``worker.py`` is the other).

The server accepts each TCP connection and hands it to the least-loaded live worker, which
then talks to the client directly (``worker.py``): one OpenEnv session per connection, its
game backend in that worker. Each worker is a ``spawn`` process joined to the server by a
Unix socket pair of packets. Server to worker: ``s`` with a connection's descriptor, and
the answers to session requests (``g ID`` granted, ``n ID ACTIVE MAX`` at capacity).
Worker to server: ``c`` a connection ended, ``? ID`` a client asks to open a session
(WebSocket upgrade on ``/ws``), ``e`` a granted session ended. The server counts sessions
(not connections: a health check in flight takes no session slot) and grants them one at a
time, so at most ``max_sessions`` are open across all workers.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
from typing import Any, Callable, List, Optional

import worker


class Pool:
    """``workers`` processes hosting at most ``max_sessions`` OpenEnv sessions."""

    def __init__(self, make_backend: Callable[[], Any], workers: int, max_sessions: int, name: str, doc: str,
                 poll_s: float = 0.0):
        ctx = mp.get_context("spawn")
        self.max_sessions = max_sessions
        self.ctrls: List[Optional[socket.socket]] = []
        self.procs = []
        self.load = [0] * workers  # open connections per worker (for least-loaded hand-off)
        self.sessions = [0] * workers  # granted sessions per worker
        for _ in range(workers):
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            p = ctx.Process(target=worker.run, args=(theirs, make_backend, name, doc, poll_s), daemon=True)
            p.start()
            theirs.close()
            self.ctrls.append(ours)
            self.procs.append(p)
        for w, c in enumerate(self.ctrls):
            if c.recv(1) != b"r":
                raise RuntimeError(f"server worker {w} exited while starting (exit code {self._exitcode(w)})")

    def _exitcode(self, w: int):
        self.procs[w].join(5)
        return self.procs[w].exitcode

    def live(self) -> List[int]:
        """The workers still running."""
        return [w for w, c in enumerate(self.ctrls) if c is not None]

    def hand_off(self, conn: socket.socket) -> None:
        """Gives an accepted connection to the least-loaded live worker (and closes ours)."""
        try:
            for w in sorted(self.live(), key=lambda i: self.load[i]):
                try:
                    socket.send_fds(self.ctrls[w], [b"s"], [conn.fileno()])
                except OSError:
                    self.lost(w)
                    continue
                self.load[w] += 1
                return
        finally:
            conn.close()

    def note(self, w: int) -> None:
        """Reads one note of worker ``w`` (see the module's doc); a closed socket: it exited."""
        try:
            msg = self.ctrls[w].recv(64)
        except OSError:
            msg = b""
        if not msg:
            self.lost(w)
        elif msg == b"c":
            self.load[w] -= 1
        elif msg == b"e":
            self.sessions[w] -= 1
        elif msg.startswith(b"?"):
            active = sum(self.sessions)
            if active < self.max_sessions:
                self.sessions[w] += 1
                reply = b"g" + msg[1:]
            else:
                reply = b"n%s %d %d" % (msg[1:], active, self.max_sessions)
            try:
                self.ctrls[w].send(reply)
            except OSError:
                self.lost(w)

    def lost(self, w: int) -> None:
        if self.ctrls[w] is not None:
            self.ctrls[w].close()
            self.ctrls[w] = None
            self.load[w] = 0
            self.sessions[w] = 0

    def close(self) -> None:
        """Ends the workers: each exits (closing its backends) when its socket closes."""
        for w in self.live():
            self.lost(w)
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()
