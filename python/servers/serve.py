"""Serves a text-game benchmark over the OpenEnv protocol with a pool of workers.

    python python/servers/serve.py --game textworld-cooking --port 8000 --workers 4 \
        --option difficulty=1

Games: textworld-cooking, textworld-text-nav, scienceworld (``--list`` shows their
options). ``--port 0`` takes any free port; the first line on stdout is
``listening on http://HOST:PORT`` once the server accepts connections. With
``--exit-on-stdin-eof`` the server stops when its standard input closes (turnwise starts it
so: the server ends with the process that started it).

The protocol is openenv-core's (``wire.py``): sessions on ``/ws``, and ``GET /health``,
``/metadata``, ``/schema`` and ``/state``, as its ``create_fastapi_app`` serves them in
production mode (no stateless ``POST /reset`` or ``/step``: they would build a game per
request). It is served without uvicorn, FastAPI or pydantic: this process accepts each
connection and hands it to the least-loaded worker of the pool (``pool.py``), which speaks
HTTP and WebSocket on it with the ``websockets`` library and steps the session's game in
the same process (``worker.py``), so a step costs one round trip between the client and
the worker.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import games  # noqa: E402
from pool import Pool  # noqa: E402


def parse_options(pairs):
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise SystemExit(f"--option {p!r}: expected KEY=VALUE")
        k, v = p.split("=", 1)
        out[k.strip()] = v
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--game", choices=sorted(games.GAMES))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--max-sessions", type=int, default=256)
    ap.add_argument("--poll-us", type=float, default=0.0,
                    help="the most a worker polls for the next request before it sleeps, adaptive (default 0: never)")
    ap.add_argument("--option", action="append", metavar="KEY=VALUE")
    ap.add_argument("--exit-on-stdin-eof", action="store_true")
    ap.add_argument("--list", action="store_true", help="list games and options")
    a = ap.parse_args(argv)
    if a.list:
        for name, g in sorted(games.GAMES.items()):
            print(f"{name}: {g.DOC}")
            for k, (default, doc) in g.OPTIONS.items():
                print(f"    {k}={default}  {doc}")
        return
    if not a.game:
        ap.error("--game is required")
    game = games.GAMES[a.game]
    opts = game.resolve(parse_options(a.option))
    # Fail early (bad options, missing package) before serving.
    game.check(opts)
    sys.exit(serve(a, game, opts))


def serve(a, game, opts) -> int:
    """Accepts connections and hands them to the pool until stopped; the exit status."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    sock.listen(1024)
    host, port = sock.getsockname()[:2]
    pool = Pool(games.Factory(a.game, opts), a.workers, a.max_sessions, game.__name__, game.DOC,
                a.poll_us * 1e-6)

    def stop(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "accept")
    for w in pool.live():
        sel.register(pool.ctrls[w], selectors.EVENT_READ, w)
    if a.exit_on_stdin_eof:
        sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        while True:
            for key, _ in sel.select():
                if key.data == "accept":
                    try:
                        conn, _ = sock.accept()
                    except OSError:  # the client gave up before we got to it
                        continue
                    pool.hand_off(conn)
                elif key.data == "stdin":
                    if not os.read(sys.stdin.fileno(), 4096):
                        return 0
                else:
                    ctrl = pool.ctrls[key.data]
                    pool.note(key.data)
                    if pool.ctrls[key.data] is None:
                        sel.unregister(ctrl)
                        if not pool.live():
                            print("serve.py: every worker exited; stopping", file=sys.stderr, flush=True)
                            return 1
    except (KeyboardInterrupt, SystemExit):
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sock.close()
        pool.close()


if __name__ == "__main__":
    main()
