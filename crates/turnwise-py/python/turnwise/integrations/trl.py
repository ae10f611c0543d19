"""TRL: train a ``GRPOTrainer`` on a turnwise environment with a turnwise turn-level
estimator.

:class:`TurnwiseGRPOTrainer` is a ``trl.GRPOTrainer`` whose rollouts play turnwise
episodes (TRL's ``rollout_func`` hook) and whose advantages are turnwise's, per token
(TRL's loss accepts ``(B, T)`` advantages from subclasses):

1. The dataset has one row per episode: ``prompt`` (the first observation, for logging)
   and ``turnwise_seed`` (:func:`episode_dataset` builds it). GRPO's repeated rows are the
   group: they share the seed, hence the task.
2. ``rollout_func`` plays each episode with the trainer's model (``model.generate``; on
   a GPU with vLLM, pass your own generate), keeping the policy's tokens exact and
   marking environment tokens 0 in ``env_mask``; it returns the per-turn rewards and
   anchors (the state each action was taken in) as extra fields.
3. The reward function is the episode return (what TRL logs and its own GRPO would use).
4. After TRL's scoring, the advantages are replaced by turnwise method ``method``'s:
   turns = runs of 1 in ``completion_mask * env_mask``, each turn's reward on its last
   token, groups = rows of one seed (:func:`turnwise.token_advantages`).

    trainer = TurnwiseGRPOTrainer(model=model, args=GRPOConfig(...),
        train_dataset=episode_dataset("ragen/frozenlake", range(64)),
        processing_class=tokenizer, env="ragen/frozenlake", method="turn_mean_baseline")
    trainer.train()
"""

from __future__ import annotations

import asyncio

import numpy as np
import torch
from trl import GRPOTrainer

from .. import _turnwise, make_env
from .episodes import play


def episode_dataset(env: str, seeds, style: str = "chat", **options):
    """A ``datasets.Dataset`` with one row per seed: ``prompt`` (the rendered first
    observation, as chat messages) and ``turnwise_seed``."""
    from datasets import Dataset

    e = make_env(env, **options)
    rows = []
    for s in seeds:
        obs, _ = e.reset(int(s))
        rows.append({"prompt": [{"role": "user", "content": e.render(obs, 1, None, style)}], "turnwise_seed": int(s)})
    return Dataset.from_list(rows)


class TurnwiseGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` on turnwise environment ``env`` with turnwise method ``method``
    (any method listed by :func:`turnwise.advantage_methods` whose fields are outcome,
    reward, tokens or anchor); ``max_turn_tokens`` caps each reply, the trainer's
    ``max_completion_length`` the whole episode."""

    def __init__(self, *args, env: str, method: str = "turn_mean_baseline", method_params: dict | None = None,
                 env_options: dict | None = None, style: str = "chat", max_turns: int = 8,
                 max_turn_tokens: int = 256, **kwargs):
        self.turnwise_env, self.turnwise_method = env, method
        self.turnwise_params = dict(method_params or {})
        self.turnwise_options, self.turnwise_style, self.turnwise_max_turns = dict(env_options or {}), style, max_turns
        self.turnwise_max_turn_tokens = max_turn_tokens
        self._turnwise_rows = []
        kwargs.setdefault("reward_funcs", [episode_return])
        super().__init__(*args, rollout_func=self._rollout, **kwargs)

    def _rollout(self, prompts, trainer):
        model = self.accelerator.unwrap_model(self.model)
        tok = self.processing_class
        seeds = [row["turnwise_seed"] for row in self._turnwise_rows]
        assert len(seeds) == len(prompts), "rows and prompts are the same batch"

        async def generate(prompt_ids):
            ids = torch.tensor([prompt_ids], device=model.device)
            with torch.no_grad():
                out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=min(self.turnwise_max_turn_tokens, self.max_completion_length),
                                     do_sample=True, temperature=self.temperature, eos_token_id=tok.eos_token_id,
                                     pad_token_id=tok.pad_token_id, output_scores=True, return_dict_in_generate=True)
            new = out.sequences[0, ids.shape[1]:]
            logps = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)[0]
            return new.tolist(), logps.tolist()

        out = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": [], "turn_rewards": [], "turn_anchors": []}
        for seed in seeds:
            env = make_env(self.turnwise_env, **self.turnwise_options)
            prompt, response, mask, logps, rewards, anchors, _ = asyncio.run(
                play(env, tok, generate, seed, self.turnwise_style, self.turnwise_max_turns, self.max_completion_length))
            out["prompt_ids"].append(prompt)
            out["completion_ids"].append(response)
            out["logprobs"].append(logps)
            out["env_mask"].append(mask)
            out["turn_rewards"].append(rewards)
            out["turn_anchors"].append([str(a) for a in anchors])
        return out

    def _generate_and_score_completions(self, inputs):
        self._turnwise_rows = inputs
        out = super()._generate_and_score_completions(inputs)
        mask = out["completion_mask"] * out.get("tool_mask", torch.ones_like(out["completion_mask"]))
        mask_np = mask.cpu().numpy()
        offsets, _, _ = _turnwise.turn_spans(mask_np)
        turns = np.diff(offsets)
        rewards, anchors = [], []
        for i, row in enumerate(inputs):
            n = int(turns[i])  # turns that survived truncation
            rewards.extend(row["turn_rewards"][:n] + [0.0] * max(0, n - len(row["turn_rewards"])))
            anchors.extend((row["turn_anchors"] + [""] * n)[:n])
        token_rewards = _turnwise.rewards_at_turn_ends(mask_np, np.asarray(rewards, dtype=np.float64))
        table = {}
        fields = {"anchor": np.array([table.setdefault(a, len(table)) for a in anchors], dtype=np.int64)}
        needs = set(next(m for m in _turnwise.methods() if m["name"] == self.turnwise_method)["fields"])
        fields = {k: v for k, v in fields.items() if k in needs}
        groups = np.array([row["turnwise_seed"] for row in inputs], dtype=np.int64)
        adv = _turnwise.token_advantages(self.turnwise_method, token_rewards, mask_np, groups, self.turnwise_params, **fields)
        out["advantages"] = torch.from_numpy(adv).to(device=mask.device, dtype=torch.float32)
        self._metrics["train" if self.model.training else "eval"]["turnwise/turns"].append(float(turns.mean()))
        return out


def episode_return(prompts, completions, turn_rewards=None, **kwargs):
    """TRL reward function: each episode's return (the sum of its turn rewards)."""
    return [float(sum(r)) for r in turn_rewards]
