"""turnwise's methods as SkyRL advantage estimators (``AdvantageEstimatorRegistry``).

:func:`register` adds ``turnwise_<name>`` for every advantage method; select one with
``trainer.algorithm.advantage_estimator=turnwise_<name>``. SkyRL calls
``fn(token_level_rewards, response_mask, index, values, grpo_norm_by_std, gamma, lambd,
config, **kwargs)``; turnwise reads turns, per-turn rewards and outcomes from the token
tensors exactly as for verl (:mod:`turnwise.integrations.verl`) and maps ``gamma`` →
``gamma``, ``lambd`` → ``lam``, ``grpo_norm_by_std`` → ``norm_by_std`` (where the method
has them), then ``TURNWISE_PARAMS[method]``; extra fields come as ``turnwise_fields``.
Register on the driver before ``ray.init`` or call ``AdvantageEstimatorRegistry.sync_with_actor()``
after it: SkyRL's registry actor carries the functions to its workers.
"""

from __future__ import annotations

import json
import os

from .. import _turnwise
from . import tensors

PREFIX = "turnwise_"
_SKYRL_PARAMS = {"gamma": "gamma", "lambd": "lam", "grpo_norm_by_std": "norm_by_std"}


def params_for(method: str, **given) -> dict:
    """Parameters of ``method`` from SkyRL's arguments, then ``TURNWISE_PARAMS``."""
    info = next(m for m in _turnwise.methods() if m["name"] == method)
    names = {p["name"] for p in info["params"]}
    params = {_SKYRL_PARAMS[k]: v for k, v in given.items() if v is not None and _SKYRL_PARAMS[k] in names}
    extra = os.environ.get("TURNWISE_PARAMS")
    if extra:
        params.update(json.loads(extra).get(method, {}))
    return params


def estimator(method: str):
    """The SkyRL advantage estimator of turnwise method ``method``."""

    def compute(token_level_rewards, response_mask, index=None, values=None, grpo_norm_by_std=None, gamma=None,
                lambd=None, config=None, turnwise_fields=None, **kwargs):
        params = params_for(method, gamma=gamma, lambd=lambd, grpo_norm_by_std=grpo_norm_by_std)
        adv = tensors.token_advantages(method, token_level_rewards, response_mask, index, params, turnwise_fields)
        return adv, adv

    compute.__name__ = compute.__qualname__ = PREFIX + method
    return compute


def register() -> list[str]:
    """Registers every advantage method with SkyRL's ``AdvantageEstimatorRegistry``
    (idempotent); returns the names."""
    from skyrl.backends.skyrl_train.utils.ppo_utils import AdvantageEstimatorRegistry

    have = set(AdvantageEstimatorRegistry.list_available())
    names = []
    for m in _turnwise.methods():
        if m["advantages"]:
            name = PREFIX + m["name"]
            if name not in have:
                AdvantageEstimatorRegistry.register(name, estimator(m["name"]))
            names.append(name)
    return names
