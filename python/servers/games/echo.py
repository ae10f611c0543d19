"""A tiny game for protocol tests and server-overhead baselines: repeat the word shown."""

from __future__ import annotations

import random
import time

from .base import Game

WORDS = ["apple", "river", "stone", "cloud", "ember", "maple", "orbit", "quill"]


class Echo(Game):
    DOC = "Repeat the word shown (reward 1 per correct word); protocol tests and overhead baselines."
    OPTIONS = {
        "length": (3, "words per episode"),
        "delay": (0.0, "seconds each step takes (fault tests: a server killed mid-step)"),
    }

    def __init__(self, opts):
        self.opts = opts
        self.words = []
        self.i = 0

    def _fields(self, text, reward=None, done=False, valid=True):
        nxt = None if done else self.words[self.i]
        return dict(text=text, reward=reward, done=done, terminated=done, truncated=False,
                    success=done, action_valid=valid, expert_action=nxt, action_space=list(WORDS),
                    action_format="line", stop="\n")

    def reset(self, seed):
        rng = random.Random(seed)
        self.words = [rng.choice(WORDS) for _ in range(self.opts["length"])]
        self.i = 0
        f = self._fields(f"Say: {self.words[0]}\n")
        f["instructions"] = "Repeat each word you are shown."
        return f

    def step(self, text):
        if self.opts["delay"] > 0:
            time.sleep(self.opts["delay"])
        ok = text.strip() == self.words[self.i]
        if ok:
            self.i += 1
        done = self.i >= len(self.words)
        msg = "Done.\n" if done else f"Say: {self.words[self.i]}\n"
        return self._fields(msg, 1.0 if ok else 0.0, done, ok)
