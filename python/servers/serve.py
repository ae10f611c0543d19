"""Serves a text-game benchmark over the OpenEnv protocol with a pool of workers.

    python python/servers/serve.py --game textworld-cooking --port 8000 --workers 4 \
        --option difficulty=1

Games: textworld-cooking, textworld-text-nav, scienceworld (``--list`` shows their
options). ``--port 0`` takes any free port; the first line on stdout is
``listening on http://HOST:PORT`` once the server accepts connections. With
``--exit-on-stdin-eof`` the server stops when its standard input closes (turnwise starts it
so: the server ends with the process that started it).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import games  # noqa: E402
from pool import Pool, TextAction, TextObservation, session_class  # noqa: E402


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

    import uvicorn
    from openenv.core.env_server import create_fastapi_app

    pool = Pool(games.Factory(a.game, opts), a.workers)
    cls = session_class(pool, game.__name__)
    app = create_fastapi_app(cls, TextAction, TextObservation, max_concurrent_envs=a.max_sessions)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    sock.listen(1024)
    host, port = sock.getsockname()[:2]
    # No server pings: a client idle between episodes (a trainer updating its model) keeps
    # its session; every request of turnwise's client has its own timeout instead.
    config = uvicorn.Config(app, log_level="warning", ws_max_size=64 * 1024 * 1024,
                            ws_ping_interval=None, ws_ping_timeout=None)
    server = uvicorn.Server(config)

    def announce():
        import time

        while not server.started:
            time.sleep(0.01)
        print(f"listening on http://{host}:{port}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    if a.exit_on_stdin_eof:
        def watch():
            sys.stdin.read()
            server.should_exit = True

        threading.Thread(target=watch, daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
