"""turnwise inside verl (0.9): advantage estimators, a reward manager and an agent loop.

**Estimators.** :func:`register` adds every turnwise method whose output is an advantage
to verl's own registry (``verl.trainer.ppo.core_algos.register_adv_est``) as
``turnwise_<name>``, so ``algorithm.adv_estimator=turnwise_gigpo`` selects it. verl calls
an estimator with ``token_level_rewards`` and ``response_mask`` ``(rows, tokens)``, the
group ``index`` (uids) and the algorithm ``config``. turnwise reads from them:

* turns: the runs of 1 in ``response_mask`` (policy tokens; 0 = tool / environment /
  padding tokens, as verl's multi-turn agent loops write them);
* ``reward`` of a turn: the token rewards from the turn's first token up to the next turn
  (a reward manager puts each turn's reward on its last token: :class:`TurnRewardManager`);
* ``outcome`` of a trajectory: the sum of its token rewards (verl's GRPO score);
* ``tokens``: the turn's length;
* parameters: ``algorithm.gamma`` → ``gamma``, ``algorithm.lam`` → ``lam``,
  ``algorithm.norm_adv_by_std_in_grpo`` → ``norm_by_std`` (for methods that have them),
  then the JSON object ``TURNWISE_PARAMS`` (environment variable:
  ``{"gigpo": {"omega": 0.5}}``).

Methods that read more (GiGPO's ``anchor``, IGPO's ``gold_logprob``, critic ``value``s…)
get those fields as ``turnwise_fields`` (a dict of per-turn / per-row arrays,
:func:`turnwise.array_fields`). verl's trainer passes no such argument, so under
``algorithm.adv_estimator`` alone they stop with turnwise's error naming the missing field;
:func:`compute_advantage` (a drop-in for ``verl.trainer.ppo.ray_trainer.compute_advantage``)
reads them from ``data.non_tensor_batch["turnwise_fields"]``, where
:class:`TurnwiseEnvAgentLoop` stores them (anchor = the environment's state key of the
state each action was taken in).

**Loading in Ray workers.** Installing the ``turnwise`` wheel registers the entry point
``verl.plugins: turnwise``; ``import verl`` loads it in every process (verl's default
``VERL_USE_EXTERNAL_PLUGINS=auto``). Without the entry point (e.g. a source checkout on
``PYTHONPATH``), set ``VERL_USE_EXTERNAL_MODULES=turnwise.integrations.verl_plugin`` in
``ray_kwargs.ray_init.runtime_env.env_vars``: verl does not forward the variable to its
``TaskRunner`` actor by itself. ``docs/scale-out.md`` has a complete configuration.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .. import _turnwise
from . import tensors

PREFIX = "turnwise_"

# verl AlgoConfig field -> turnwise parameter name
_CONFIG_PARAMS = {"gamma": "gamma", "lam": "lam", "norm_adv_by_std_in_grpo": "norm_by_std"}


def _config_get(config, key):
    if config is None:
        return None
    getter = getattr(config, "get", None)
    if getter is not None:
        try:
            return getter(key, None)
        except TypeError:
            pass
    return getattr(config, key, None)


def params_for(method: str, config=None) -> dict:
    """The parameters turnwise method ``method`` runs with under verl: the algorithm
    config's ``gamma`` / ``lam`` / ``norm_adv_by_std_in_grpo`` where the method has such a
    parameter, then ``TURNWISE_PARAMS[method]``."""
    info = next(m for m in _turnwise.methods() if m["name"] == method)
    names = {p["name"] for p in info["params"]}
    params = {}
    for key, name in _CONFIG_PARAMS.items():
        value = _config_get(config, key)
        if name in names and value is not None:
            params[name] = value
    extra = os.environ.get("TURNWISE_PARAMS")
    if extra:
        try:
            table = json.loads(extra)
        except json.JSONDecodeError as e:
            raise _turnwise.CreditError(f"TURNWISE_PARAMS: not JSON: {e}") from None
        params.update(table.get(method, {}))
    return params


def estimator(method: str):
    """The verl advantage estimator of turnwise method ``method``:
    ``fn(token_level_rewards, response_mask, index=None, config=None, **kwargs) ->
    (advantages, returns)`` (returns = advantages, as verl's outcome estimators do)."""

    def compute(token_level_rewards, response_mask, index=None, config=None, turnwise_fields=None, **kwargs: Any):
        adv = tensors.token_advantages(
            method, token_level_rewards, response_mask, index, params_for(method, config), turnwise_fields
        )
        return adv, adv

    compute.__name__ = f"{PREFIX}{method}"
    compute.__qualname__ = compute.__name__
    compute.__doc__ = f"turnwise method `{method}` as a verl advantage estimator (turnwise.integrations.verl)."
    return compute


_ESTIMATORS: dict[str, Any] = {}


def register() -> list[str]:
    """Registers ``turnwise_<name>`` for every advantage method with verl's
    ``register_adv_est``; idempotent. Returns the registered names."""
    from verl.trainer.ppo.core_algos import register_adv_est

    names = []
    for method in _turnwise.methods():
        if not method["advantages"]:
            continue
        name = PREFIX + method["name"]
        fn = _ESTIMATORS.setdefault(name, estimator(method["name"]))
        register_adv_est(name)(fn)
        names.append(name)
    return names


def row_fields(data) -> dict | None:
    """The per-turn / per-row fields of a verl ``DataProto`` (its
    ``non_tensor_batch["turnwise_fields"]``, one dict per row) as flat arrays."""
    rows = data.non_tensor_batch.get("turnwise_fields") if data.non_tensor_batch else None
    if rows is None:
        return None
    mask = tensors._numpy(data.batch["response_mask"])
    offsets, _, _ = _turnwise.turn_spans(mask)
    return tensors.flatten_fields(list(rows), np.diff(offsets))


def compute_advantage(data, adv_estimator, gamma=1.0, lam=1.0, num_repeat=1, norm_adv_by_std_in_grpo=True, config=None):
    """verl's ``compute_advantage`` for ``turnwise_*`` estimators that also passes the
    rows' ``turnwise_fields``; any other estimator goes to verl's own function."""
    from verl.trainer.ppo import core_algos
    from verl.trainer.ppo.ray_trainer import compute_advantage as verl_compute_advantage

    name = getattr(adv_estimator, "value", adv_estimator)
    if not str(name).startswith(PREFIX):
        return verl_compute_advantage(data, adv_estimator, gamma, lam, num_repeat, norm_adv_by_std_in_grpo, config)
    fn = core_algos.get_adv_estimator_fn(name)
    adv, ret = fn(
        token_level_rewards=data.batch["token_level_rewards"],
        response_mask=data.batch["response_mask"],
        index=data.non_tensor_batch.get("uid"),
        config=config,
        turnwise_fields=row_fields(data),
    )
    data.batch["advantages"] = adv
    data.batch["returns"] = ret
    return data


def turn_token_rewards(response_mask, turn_rewards, scores):
    """``(rows, tokens)`` float32 rewards: row ``r``'s per-turn rewards
    ``turn_rewards[r]`` on each turn's last token, plus what the row's ``scores[r]`` adds
    beyond their sum on its last turn's last token (so each row sums to its score). A row
    without per-turn rewards gets its score on its last policy token."""
    import torch

    mask = tensors._numpy(response_mask)
    offsets, _, ends = _turnwise.turn_spans(mask)
    flat = []
    for r in range(mask.shape[0]):
        n = offsets[r + 1] - offsets[r]
        given = list(turn_rewards[r]) if turn_rewards is not None and turn_rewards[r] is not None else []
        if given and len(given) != n:
            raise _turnwise.ArrayError(f"turn rewards: row {r} has {len(given)} rewards but {n} turns in response_mask")
        per = [float(x) for x in given] if given else [0.0] * n
        if n:
            per[-1] += float(scores[r]) - sum(per)
        flat.extend(per)
    out = _turnwise.rewards_at_turn_ends(mask, np.asarray(flat, dtype=np.float64))
    return torch.from_numpy(out).to(torch.float32)


def _register_reward_manager():
    from verl.experimental.reward_loop.reward_manager import register as register_rm
    from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

    class TurnRewardManager(RewardManagerBase):
        """verl reward-loop manager ``turnwise``: an episode's reward is the sum of the
        per-turn rewards its agent loop recorded (``extra_fields["turnwise_turn_rewards"]``,
        else verl's ``turn_scores``), and :meth:`assemble_rm_scores` puts each turn's reward
        on the turn's last token, where turnwise's estimators read it. Select it with
        ``reward.reward_manager.name=turnwise``."""

        async def run_single(self, data) -> dict:
            extra = data.non_tensor_batch.get("tool_extra_fields")
            fields = extra[-1] if extra is not None else {}
            turns = fields.get("turnwise_turn_rewards") or fields.get("turn_scores") or []
            return {"reward_score": float(sum(turns)), "reward_extra_info": {"turnwise_turns": len(turns)}}

        @classmethod
        def assemble_rm_scores(cls, data, scores):
            rows = data.non_tensor_batch.get("turnwise_turn_rewards")
            if rows is None:
                rows = data.non_tensor_batch.get("turn_scores")
            return turn_token_rewards(data.batch["response_mask"], rows, scores)

    TurnRewardManager.__name__ = TurnRewardManager.__qualname__ = "TurnRewardManager"
    register_rm("turnwise")(TurnRewardManager)
    return TurnRewardManager


TurnRewardManager = None
TurnwiseEnvAgentLoop = None


def install():
    """Registers everything turnwise adds to verl: the estimators, the ``turnwise``
    reward manager and the ``turnwise_env`` agent loop. Idempotent; returns the
    estimator names."""
    global TurnRewardManager, TurnwiseEnvAgentLoop
    names = register()
    if TurnRewardManager is None:
        TurnRewardManager = _register_reward_manager()
    if TurnwiseEnvAgentLoop is None:
        from .verl_agent_loop import register_agent_loop

        TurnwiseEnvAgentLoop = register_agent_loop()
    return names
