"""ScienceWorld (``scienceworld`` on PyPI, Apache-2.0; runs a JVM): its 30 task types with
their own scores. The episode seed picks a training variation of the task; the reward is the
score gain / 100 (the score runs from 0 to 100, and ScienceWorld ends a failed task at a
negative score); success = score 100."""

from __future__ import annotations

from typing import Any, Dict

from .base import Game


class ScienceWorld(Game):
    DOC = "ScienceWorld tasks (JVM) with their own scores; the seed picks a training variation."
    OPTIONS = {
        "task": ("find-living-thing", "task name (see ScienceWorld's get_task_names())"),
        "simplification": ("easy", "ScienceWorld simplification string (easy, or a comma list)"),
        "max_steps": (30, "steps before the episode is truncated"),
        "expert": (True, "expose the next gold action while the episode follows the gold path"),
    }

    @classmethod
    def check(cls, opts):
        from scienceworld import ScienceWorldEnv

        env = ScienceWorldEnv("", envStepLimit=opts["max_steps"])
        try:
            names = env.get_task_names()
            if opts["task"] not in names:
                raise SystemExit(f"unknown task {opts['task']!r}; tasks: {', '.join(names)}")
        finally:
            env.close()

    def __init__(self, opts: Dict[str, Any]):
        from scienceworld import ScienceWorldEnv

        self.opts = opts
        # One step beyond our own limit, so that ScienceWorld's cut never hides ours.
        self.env = ScienceWorldEnv("", envStepLimit=opts["max_steps"] + 1)
        self.variations = None
        self.gold = []
        self.on_path = True
        self.steps = 0
        self.score = 0

    def _fields(self, text, reward=None, done=False, truncated=False, valid=True, success=False):
        expert = None
        if self.opts["expert"] and self.on_path and self.steps < len(self.gold) and not (done or truncated):
            expert = self.gold[self.steps]
        return dict(
            text=text, reward=reward, done=bool(done or truncated),
            terminated=bool(done and not truncated), truncated=bool(truncated),
            success=success, action_valid=valid, score=float(self.score),
            expert_action=expert, action_space=[], budget_left=max(0, self.opts["max_steps"] - self.steps),
            action_format="line", stop="\n",
            state_key=text,  # GiGPO's anchor state: the observation as shown
        )

    def reset(self, seed: int) -> Dict[str, Any]:
        task = self.opts["task"]
        if self.variations is None:
            self.env.load(task, 0, self.opts["simplification"])
            self.variations = self.env.get_variations_train()
        v = self.variations[seed % len(self.variations)]
        self.env.load(task, v, self.opts["simplification"], generateGoldPath=self.opts["expert"])
        obs, _ = self.env.reset()
        self.gold = self.env.get_gold_action_sequence() if self.opts["expert"] else []
        self.on_path = True
        self.steps = 0
        self.score = 0
        f = self._fields(obs.strip() + "\n")
        f["instructions"] = self.env.get_task_description()
        return f

    def step(self, text: str) -> Dict[str, Any]:
        action = text.strip()
        if self.on_path and (self.steps >= len(self.gold) or self.gold[self.steps] != action):
            self.on_path = False
        obs, _, completed, info = self.env.step(action)
        self.steps += 1
        score = info["score"]
        reward = (score - self.score) / 100.0
        self.score = score
        success = score >= 100
        done = bool(completed) and (success or score < 0)
        truncated = not done and self.steps >= self.opts["max_steps"]
        valid = not obs.startswith("No known action matches")
        return self._fields(obs.strip() + "\n", reward, done, truncated, valid, success)

    def close(self) -> None:
        self.env.close()
