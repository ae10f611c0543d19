"""Where a served step's time goes: a hosted game played episode by episode in-process and
through ``serve.py`` (one worker, a raw ``websockets`` client), alternating within one
process so both sides see the same load, with wall-clock and CPU time per step.

    python python/servers/overhead.py --game textworld-text-nav --episodes 16 --rounds 5

Per round: ms per step both ways (stepping only), the server/in-process wall ratio, and CPU
ms per step of this client, of the server's processes (Linux ``/proc``) and of the
in-process loop (whole episodes, resets included on both sides). A
wall ratio well above the CPU ratio is time spent waiting to run (scheduling), not work.
The client here is Python (about 0.8 ms of CPU per step); turnwise's is lighter.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--game", required=True, choices=sorted(games.GAMES))
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--option", action="append")
    a = ap.parse_args()
    from websockets.sync.client import connect

    game = games.GAMES[a.game]
    backend = game(game.resolve(parse_options(a.option)))
    serve = os.path.join(os.path.dirname(os.path.abspath(__file__)), "serve.py")
    argv = [sys.executable, serve, "--game", a.game, "--port", "0", "--workers", "1"]
    for kv in a.option or []:
        argv += ["--option", kv]
    server = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split("listening on ", 1)[1].strip()
        pids = [server.pid]
        if os.path.exists(f"/proc/{server.pid}/task/{server.pid}/children"):  # the workers
            with open(f"/proc/{server.pid}/task/{server.pid}/children") as f:
                pids += f.read().split()
        ws = connect(url.replace("http://", "ws://") + "/ws", compression=None, max_size=None)

        def served(seed):
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

        def in_process(seed):
            return play(backend, seed, 1)

        for seed in range(a.episodes):  # warm-up: games loaded, JIT and caches warm on both sides
            served(seed)
            in_process(seed)
        walls, cpus = [], []
        for r in range(a.rounds):
            acc = {served: [0, 0.0, 0.0, 0.0], in_process: [0, 0.0, 0.0, 0.0]}  # steps, wall, own CPU, server CPU
            for seed in range(a.episodes):
                for side in ((served, in_process) if (seed + r) % 2 == 0 else (in_process, served)):
                    c0, s0 = time.process_time(), proc_cpu(pids)
                    n, t = side(seed)
                    x = acc[side]
                    x[0] += n
                    x[1] += t
                    x[2] += time.process_time() - c0
                    x[3] += proc_cpu(pids) - s0
            (n, ts, cc, cs), (m, ti, ci, _) = acc[served], acc[in_process]
            assert n == m, (n, m)
            walls.append(ts / ti)
            cpus.append((cc + cs) / ci)
            print(f"round {r}: {n} steps a side; wall ms/step served {1e3 * ts / n:.2f} vs in-process {1e3 * ti / n:.2f} "
                  f"(ratio {walls[-1]:.3f}); CPU ms/step client {1e3 * cc / n:.2f} + server {1e3 * cs / n:.2f} vs "
                  f"in-process {1e3 * ci / n:.2f} (ratio {cpus[-1]:.3f})", flush=True)
        print(f"{a.game}: median served/in-process wall ratio {statistics.median(walls):.3f}, "
              f"CPU ratio {statistics.median(cpus):.3f} over {a.rounds} rounds")
        ws.close()
    finally:
        server.kill()
        server.wait()
        backend.close()


if __name__ == "__main__":
    main()
