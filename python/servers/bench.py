"""The package's own Python loop, in-process, for `turnwise env bench`: plays ``--episodes``
expert episodes (seeds 0..n-1) of a hosted game by calling its backend directly and prints
``{"steps": N, "seconds": S}`` (stepping time only, resets excluded). The episodes are
played once untimed first (``--warmup 1``): the server side of the bench is warm (its
backend has played them already), and a cold ScienceWorld JVM steps several times slower."""

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
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--option", action="append")
    ap.add_argument("--warmup", type=int, default=1, help="untimed passes over the episodes first")
    a = ap.parse_args()
    game = games.GAMES[a.game]
    opts = game.resolve(parse_options(a.option))
    backend = game(opts)
    for _ in range(a.warmup):
        play(backend, a.seed, a.episodes)
    steps, secs = play(backend, a.seed, a.episodes)
    backend.close()
    print(json.dumps({"steps": steps, "seconds": secs}))


def play(backend, first: int, episodes: int):
    """Expert episodes of seeds first.. on ``backend``: steps and stepping seconds."""
    steps, secs = 0, 0.0
    for seed in range(first, first + episodes):
        f = backend.reset(seed)
        t = time.perf_counter()
        while f.get("expert_action") is not None and not f.get("done"):
            f = backend.step(f["expert_action"])
            steps += 1
        secs += time.perf_counter() - t
    return steps, secs


if __name__ == "__main__":
    main()
