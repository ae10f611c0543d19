"""turnwise's estimators through SkyRL's own registry and dispatch
(`AdvantageEstimatorRegistry`, `compute_advantages_and_returns`).

SkyRL 0.4 requires Python ≥ 3.12; 0.3.0 (installed here) declares ≥ 3.11 but
`import skyrl.backends` fails on 3.11: `skyrl/tinker/types.py` puts a `typing.TypedDict` in
a pydantic model, which pydantic refuses below 3.12 ("Please use
`typing_extensions.TypedDict`"). The fixture below makes `typing.TypedDict` the
`typing_extensions` one (what 3.12's `typing.TypedDict` is to pydantic) before importing
SkyRL; SkyRL's code itself is unchanged."""

import typing

import numpy as np
import pytest

torch = pytest.importorskip("torch")
typing_extensions = pytest.importorskip("typing_extensions")


@pytest.fixture(scope="module")
def ppo_utils():
    saved = typing.TypedDict
    typing.TypedDict = typing_extensions.TypedDict
    try:
        from skyrl.backends.skyrl_train.utils import ppo_utils
    finally:
        typing.TypedDict = saved
    return ppo_utils


def batch(seed):
    from test_verl import random_batch

    return random_batch(seed, dtype=torch.float64)


def test_registered_and_equal_to_skyrls_grpo(ppo_utils):
    from turnwise.integrations import skyrl as tws

    names = tws.register()
    assert set(names) <= set(ppo_utils.AdvantageEstimatorRegistry.list_available())
    assert tws.register() == names
    from skyrl.train.config import AlgorithmConfig

    for seed in (1, 2):
        rewards, mask, uid, _ = batch(seed)
        for by_std in (True, False):
            kw = dict(token_level_rewards=rewards, response_mask=mask, index=uid, config=AlgorithmConfig(), grpo_norm_by_std=by_std)
            ours, _ = ppo_utils.compute_advantages_and_returns(adv_estimator="turnwise_grpo", **kw)
            theirs, _ = ppo_utils.compute_advantages_and_returns(adv_estimator="grpo", **kw)
            torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


def test_dispatch_gives_turnwises_numbers(ppo_utils):
    import turnwise as tw
    from test_verl import arrays_for, scatter
    from turnwise.integrations import skyrl as tws
    from skyrl.train.config import AlgorithmConfig

    tws.register()
    rewards, mask, uid, per_turn = batch(7)
    offsets, gid, fields = arrays_for(rewards, per_turn, uid)
    for method, params in [("trloo", {"gamma": 0.9}), ("rloo", {}), ("turn_mean_baseline", {"gamma": 1.0}), ("reinforce_pp", {"gamma": 0.9})]:
        got, _ = ppo_utils.compute_advantages_and_returns(
            token_level_rewards=rewards, response_mask=mask, index=uid, config=AlgorithmConfig(),
            adv_estimator="turnwise_" + method, gamma=params.get("gamma", 1.0),
        )
        want = tw.advantages_from_arrays(method, offsets, gid, params, **fields)["values"]
        np.testing.assert_allclose(got.numpy(), scatter(want, per_turn, mask.shape), rtol=1e-12, atol=1e-12, err_msg=method)
