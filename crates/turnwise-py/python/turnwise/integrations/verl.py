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
:func:`turnwise.array_fields`). verl hands a registered estimator only the tensors above
(GDPO excepted), so the plug-in also wraps verl's advantage step for ``turnwise_*``
estimators (nothing else changes): ``compute_advantage`` of
``verl.trainer.ppo.ray_trainer`` (legacy trainer), of ``verl.trainer.ppo.v1.utils`` and of
``verl.experimental.separation.ray_trainer``, and ``PPOTrainer._compute_advantage`` of the
v1 trainer (``trainer.use_v1``, verl's default), which fetches the rows' ``extra_fields``
from its TransferQueue. Each row's fields come from what its agent loop recorded
(:class:`TurnwiseEnvAgentLoop` does): ``turnwise_fields`` (``{"anchor": [state key per
turn], …}``) and ``turnwise_turn_rewards`` (the turns' rewards: when every row has them
they are the turns' ``reward``, in place of the sums read off the token rewards, which the
v1 trainer's reward step cannot place per turn; the token rewards still give the
``outcome``). A method still missing a field stops with turnwise's error naming it.

**Loading in Ray workers.** Installing the ``turnwise`` wheel registers the entry point
``verl.plugins: turnwise``; ``import verl`` loads it in every process (verl's default
``VERL_USE_EXTERNAL_PLUGINS=auto``). Without the entry point (e.g. a source checkout on
``PYTHONPATH``), set ``VERL_USE_EXTERNAL_MODULES=turnwise.integrations.verl_plugin`` in
``ray_kwargs.ray_init.runtime_env.env_vars``: verl does not forward the variable to its
``TaskRunner`` actor by itself. ``docs/scale-out.md`` has a complete configuration.
"""

from __future__ import annotations

import contextvars
import functools
import importlib.abc
import json
import os
import sys
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


# Per-row dicts of the batch being estimated, fetched by the v1 trainer's wrapped
# `_compute_advantage` (its DataProto holds tensors only).
_PENDING_ROWS: contextvars.ContextVar = contextvars.ContextVar("turnwise_pending_rows", default=None)


def _row_dicts(data):
    """Each row's turnwise fields (``turnwise_fields``, plus ``reward`` from
    ``turnwise_turn_rewards`` when every row recorded them), from the DataProto's
    non-tensor columns, else from what the v1 trainer fetched; None when there are none."""
    ntb = data.non_tensor_batch or {}
    fields, rewards = ntb.get("turnwise_fields"), ntb.get("turnwise_turn_rewards")
    if fields is None and rewards is None:
        pending = _PENDING_ROWS.get()
        if pending is None or len(pending) != len(data):
            return None
        fields = [e.get("turnwise_fields") for e in pending]
        rewards = [e.get("turnwise_turn_rewards") for e in pending]
    n = len(data)
    rows = [dict(f or {}) for f in fields] if fields is not None else [{} for _ in range(n)]
    if rewards is not None and all(r is not None for r in rewards):
        for row, r in zip(rows, rewards):
            row.setdefault("reward", [float(x) for x in r])
    return rows if any(rows) else None


def row_fields(data) -> dict | None:
    """The per-turn / per-row fields of a verl ``DataProto`` as flat arrays
    (:func:`turnwise.array_fields`): each row's ``turnwise_fields`` dict and, when every
    row recorded them, its ``turnwise_turn_rewards`` as ``reward`` (see the module's
    docs)."""
    rows = _row_dicts(data)
    if rows is None:
        return None
    offsets, _, _ = _turnwise.turn_spans(tensors._numpy(data.batch["response_mask"]))
    return tensors.flatten_fields(rows, np.diff(offsets))


def _is_turnwise(adv_estimator) -> bool:
    return str(getattr(adv_estimator, "value", adv_estimator)).startswith(PREFIX)


def compute_advantage(data, adv_estimator, gamma=1.0, lam=1.0, num_repeat=1, norm_adv_by_std_in_grpo=True, config=None):
    """verl's ``compute_advantage`` for ``turnwise_*`` estimators that also passes the
    rows' turnwise fields (:func:`row_fields`); any other estimator goes to verl's own
    function. The plug-in puts it in verl's place (see the module's docs)."""
    from verl.trainer.ppo import core_algos

    if not _is_turnwise(adv_estimator):
        return _verl_compute_advantage()(data, adv_estimator, gamma, lam, num_repeat, norm_adv_by_std_in_grpo, config)
    if "response_mask" not in data.batch.keys():
        from verl.trainer.ppo.ray_trainer import compute_response_mask

        data.batch["response_mask"] = compute_response_mask(data)
    name = getattr(adv_estimator, "value", adv_estimator)
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


def _verl_compute_advantage():
    """verl's own ``ray_trainer.compute_advantage`` (unwrapped)."""
    from verl.trainer.ppo import ray_trainer

    fn = ray_trainer.compute_advantage
    return getattr(fn, "__wrapped__", fn)


def _wrap_compute_advantage(module):
    """Puts :func:`compute_advantage` in place of ``module.compute_advantage`` for
    ``turnwise_*`` estimators (others still reach verl's function)."""
    original = getattr(module, "compute_advantage", None)
    if original is None or getattr(original, "_turnwise", False):
        return

    @functools.wraps(original)
    def wrapped(data, adv_estimator, *args, **kwargs):
        if _is_turnwise(adv_estimator):
            return compute_advantage(data, adv_estimator, *args, **kwargs)
        return original(data, adv_estimator, *args, **kwargs)

    wrapped._turnwise = True
    module.compute_advantage = wrapped


def _wrap_v1_trainer(module):
    """Wraps the v1 trainer's ``PPOTrainer._compute_advantage``: for ``turnwise_*``
    estimators it first fetches the rows' ``extra_fields`` from the TransferQueue (the
    agent loops' records, which verl does not otherwise read there)."""
    cls = getattr(module, "PPOTrainer", None)
    original = getattr(cls, "_compute_advantage", None)
    if original is None or getattr(original, "_turnwise", False):
        return

    @functools.wraps(original)
    def _compute_advantage(self, batch, metrics):
        if not _is_turnwise(self.config.algorithm.adv_estimator):
            return original(self, batch, metrics)
        got = module.tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["extra_fields"])
        extra = got["extra_fields"]
        extra = extra.tolist() if hasattr(extra, "tolist") else list(extra)
        token = _PENDING_ROWS.set([e if isinstance(e, dict) else {} for e in extra])
        try:
            return original(self, batch, metrics)
        finally:
            _PENDING_ROWS.reset(token)

    _compute_advantage._turnwise = True
    cls._compute_advantage = _compute_advantage


# verl modules whose advantage step the plug-in wraps, and how
_WRAPS = {
    "verl.trainer.ppo.ray_trainer": _wrap_compute_advantage,
    "verl.trainer.ppo.v1.utils": _wrap_compute_advantage,
    "verl.experimental.separation.ray_trainer": _wrap_compute_advantage,
    "verl.trainer.ppo.v1.trainer_base": _wrap_v1_trainer,
}


class _WrapOnImport(importlib.abc.MetaPathFinder):
    """Applies :data:`_WRAPS` to a module right after it is first imported, so that
    loading the plug-in (in every verl process) imports none of verl's trainers."""

    def find_spec(self, name, path, target=None):
        wrap = _WRAPS.get(name)
        if wrap is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_and_wrap(module):
            exec_module(module)
            wrap(module)

        loader.exec_module = exec_and_wrap
        return spec


def wrap_dispatch():
    """Wraps verl's advantage step (:data:`_WRAPS`) in modules already imported, and in
    the others when they are imported. Idempotent."""
    for name, wrap in _WRAPS.items():
        if name in sys.modules:
            wrap(sys.modules[name])
    if not any(isinstance(f, _WrapOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _WrapOnImport())


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
            if "response_mask" not in data.batch.keys():
                # verl's v1 colocated reward step passes no mask: the score on the last
                # token (the estimators then read the turns' rewards from extra_fields)
                return super().assemble_rm_scores(data, scores)
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
    """Registers everything turnwise adds to verl: the estimators (and the wrap of verl's
    advantage step that hands them the rows' fields), the ``turnwise`` reward manager and
    the ``turnwise_env`` agent loop. Idempotent; returns the estimator names."""
    global TurnRewardManager, TurnwiseEnvAgentLoop
    names = register()
    wrap_dispatch()
    if TurnRewardManager is None:
        TurnRewardManager = _register_reward_manager()
    if TurnwiseEnvAgentLoop is None:
        from .verl_agent_loop import register_agent_loop

        TurnwiseEnvAgentLoop = register_agent_loop()
    return names
