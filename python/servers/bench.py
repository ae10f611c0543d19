"""The package's own Python loop, in-process, for `turnwise env bench`: a hosted game's
backend called directly, in this one process for the whole bench. Each line
``SEED EPISODES`` on standard input plays the expert episodes of seeds SEED.. and answers
one line ``{"steps": N, "seconds": S, "cpu_seconds": C}``: the wall-clock and CPU time
(this thread's) spent stepping, resets excluded. turnwise alternates these requests with the same episodes through the server
and plays each episode once untimed first on both sides (a cold ScienceWorld JVM steps
several times slower)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import games  # noqa: E402
from serve import parse_options  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--game", required=True, choices=sorted(games.GAMES))
    ap.add_argument("--option", action="append")
    a = ap.parse_args()
    game = games.GAMES[a.game]
    backend = game(game.resolve(parse_options(a.option)))
    try:
        for line in sys.stdin:
            seed, episodes = (int(x) for x in line.split())
            steps, secs, cpu = play(backend, seed, episodes)
            print(json.dumps({"steps": steps, "seconds": secs, "cpu_seconds": cpu}), flush=True)
    finally:
        backend.close()


def play(backend, first: int, episodes: int):
    """Expert episodes of seeds first.. on ``backend``: steps, stepping wall-clock seconds
    and stepping CPU seconds of this thread."""
    steps, secs, cpu = 0, 0.0, 0.0
    for seed in range(first, first + episodes):
        f = backend.reset(seed)
        t, c = time.perf_counter(), time.thread_time()
        while f.get("expert_action") is not None and not f.get("done"):
            f = backend.step(f["expert_action"])
            steps += 1
        secs += time.perf_counter() - t
        cpu += time.thread_time() - c
    return steps, secs, cpu


if __name__ == "__main__":
    main()
