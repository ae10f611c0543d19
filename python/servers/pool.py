"""The server's pool of worker processes (the server side; ``worker.py`` is the other).

The server accepts each TCP connection and hands it to the least-loaded live worker, which
then talks to the client directly (``worker.py``): one OpenEnv session per connection, its
game backend in that worker. Each worker is a ``spawn`` process joined to the server by a
Unix socket pair: file descriptors go one way, one byte per ended connection the other.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
from typing import Any, Callable, List, Optional

import worker


class Pool:
    """``workers`` processes hosting the sessions of at most ``max_sessions`` connections."""

    def __init__(self, make_backend: Callable[[], Any], workers: int, max_sessions: int, name: str, doc: str):
        ctx = mp.get_context("spawn")
        self.max_sessions = max_sessions
        self.ctrls: List[Optional[socket.socket]] = []
        self.procs = []
        self.load = [0] * workers
        for _ in range(workers):
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            p = ctx.Process(target=worker.run, args=(theirs, make_backend, name, doc), daemon=True)
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
            active = sum(self.load)
            msg = b"s" if active < self.max_sessions else b"f%d %d" % (active, self.max_sessions)
            for w in sorted(self.live(), key=lambda i: self.load[i]):
                try:
                    socket.send_fds(self.ctrls[w], [msg], [conn.fileno()])
                except OSError:
                    self.lost(w)
                    continue
                self.load[w] += 1
                return
        finally:
            conn.close()

    def ended(self, w: int) -> None:
        """Reads worker ``w``'s notes of ended connections; a closed socket: it exited."""
        try:
            data = self.ctrls[w].recv(4096)
        except OSError:
            data = b""
        if not data:
            self.lost(w)
        else:
            self.load[w] -= len(data)

    def lost(self, w: int) -> None:
        if self.ctrls[w] is not None:
            self.ctrls[w].close()
            self.ctrls[w] = None
            self.load[w] = 0

    def close(self) -> None:
        """Ends the workers: each exits (closing its backends) when its socket closes."""
        for w in self.live():
            self.lost(w)
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()
