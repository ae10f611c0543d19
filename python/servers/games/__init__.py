"""The benchmarks the OpenEnv servers host, by name."""

from __future__ import annotations

import os
from typing import Any, Dict

from . import echo, scienceworld_game, textworld_games

GAMES = {
    "echo": echo.Echo,
    "textworld-cooking": textworld_games.Cooking,
    "textworld-text-nav": textworld_games.TextNav,
    "scienceworld": scienceworld_game.ScienceWorld,
}


def cache_dir(*parts: str) -> str:
    """A folder in turnwise's per-user cache ($TURNWISE_CACHE, else ~/.cache/turnwise)."""
    base = os.environ.get("TURNWISE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "turnwise"
    )
    d = os.path.join(base, *parts)
    os.makedirs(d, exist_ok=True)
    return d


class Factory:
    """Builds a game's backend inside a worker process (picklable for ``spawn``)."""

    def __init__(self, game: str, opts: Dict[str, Any]):
        self.game = game
        self.opts = opts

    def __call__(self):
        return GAMES[self.game](self.opts)
