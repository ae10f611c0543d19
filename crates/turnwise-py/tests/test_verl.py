"""turnwise's estimators inside verl 0.9 (installed from PyPI), through verl's own
dispatch: `get_adv_estimator_fn` and `ray_trainer.compute_advantage` give turnwise's
numbers, `turnwise_grpo` gives verl's `grpo`, the plug-in loads at `import verl` (also in a
Ray worker), and the reward manager and agent loop produce what the estimators read."""

import asyncio
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
verl = pytest.importorskip("verl")
# this process's first `import verl` (no other test module imports it): what verl loaded
from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY  # noqa: E402

REGISTERED_AT_IMPORT = "turnwise_gigpo" in ADV_ESTIMATOR_REGISTRY

import turnwise as tw  # noqa: E402
from turnwise.integrations import verl as twv  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.trainer.ppo import core_algos  # noqa: E402
from verl.trainer.ppo.ray_trainer import compute_advantage  # noqa: E402



def random_batch(seed, rows=24, cols=40, group=4, dtype=torch.float32):
    """Multi-turn rows: turns of 1-5 policy tokens separated by 1-4 observation tokens,
    then padding; each turn's reward on its last token; groups of `group` rows."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((rows, cols), dtype=np.int64)
    rewards = np.zeros((rows, cols))
    per_turn = []
    for r in range(rows):
        c, turns = int(rng.integers(0, 3)), []
        while True:
            n = int(rng.integers(1, 6))
            if c + n > cols - int(rng.integers(0, 8)):
                break
            mask[r, c : c + n] = 1
            reward = float(rng.choice([0.0, 0.0, 1.0, -0.5, rng.normal()]))
            rewards[r, c + n - 1] = reward
            turns.append((c, c + n, reward))
            c += n + int(rng.integers(1, 5))
        per_turn.append(turns)
    uid = np.array([f"uid-{r // group}" for r in range(rows)], dtype=object)
    return torch.tensor(rewards, dtype=dtype), torch.tensor(mask), uid, per_turn


def arrays_for(rewards, per_turn, uid):
    """The same batch as turnwise's per-turn arrays (an independent reading of the rows)."""
    lens = [len(t) for t in per_turn]
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    fields = {
        "outcome": rewards.double().sum(-1).numpy(),
        "reward": np.array([x for t in per_turn for (_, _, x) in t], dtype=np.float64),
        "tokens": np.array([b - a for t in per_turn for (a, b, _) in t], dtype=np.int64),
    }
    return offsets, uid, fields


def scatter(values, per_turn, shape):
    out = np.zeros(shape)
    k = 0
    for r, turns in enumerate(per_turn):
        for a, b, _ in turns:
            out[r, a:b] = values[k]
            k += 1
    return out


def test_every_advantage_method_is_registered():
    names = twv.register()
    assert names == ["turnwise_" + m for m in tw.advantage_methods()]
    for name in names:
        assert core_algos.get_adv_estimator_fn(name).__name__ == name
    assert twv.register() == names  # idempotent: verl accepts the same function again


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_turnwise_grpo_equals_verls_grpo(seed, dtype):
    twv.register()
    rewards, mask, uid, _ = random_batch(seed, dtype=dtype)
    data = DataProto.from_dict(tensors={"token_level_rewards": rewards, "response_mask": mask}, non_tensors={"uid": uid})
    ours = compute_advantage(data, "turnwise_grpo", config={"norm_adv_by_std_in_grpo": True}).batch["advantages"].clone()
    theirs = compute_advantage(data, core_algos.AdvantageEstimator.GRPO).batch["advantages"]
    vectorized, _ = core_algos.get_adv_estimator_fn("grpo_vectorized")(rewards, mask, uid)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=2e-6, atol=2e-6)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, theirs, **tol)
    # grpo_vectorized computes its group statistics in float32 whatever the input dtype
    torch.testing.assert_close(ours, vectorized.to(dtype), rtol=1e-4, atol=1e-6)
    # Dr. GRPO: norm_adv_by_std_in_grpo=False maps to turnwise's norm_by_std=False
    ours = core_algos.get_adv_estimator_fn("turnwise_grpo")(rewards, mask, index=uid, config={"norm_adv_by_std_in_grpo": False})[0]
    theirs = core_algos.compute_grpo_outcome_advantage(rewards, mask, uid, norm_adv_by_std_in_grpo=False)[0]
    torch.testing.assert_close(ours, theirs, **tol)


def test_estimators_through_verls_dispatch_give_turnwises_numbers():
    twv.register()
    checked, need_fields = [], []
    for seed in (11, 12):
        rewards, mask, uid, per_turn = random_batch(seed, dtype=torch.float64)
        offsets, gid, fields = arrays_for(rewards, per_turn, uid)
        for m in tw.methods():
            if not m["advantages"]:
                continue
            name = "turnwise_" + m["name"]
            data = DataProto.from_dict(tensors={"token_level_rewards": rewards, "response_mask": mask}, non_tensors={"uid": uid})
            try:
                want = tw.advantages_from_arrays(m["name"], offsets, gid, **fields)["values"]
            except tw.CreditError as e:  # a field verl does not carry, or A-GRAE's [0, 1] outcomes
                with pytest.raises(tw.CreditError) as got:
                    compute_advantage(data, name)
                assert str(got.value) == str(e)
                if "needs field" in str(e):
                    need_fields.append(m["name"])
                continue
            got = compute_advantage(data, name).batch["advantages"].numpy()
            if isinstance(want, tuple):  # per-token output: one value per policy token
                vals, _ = want
                want = np.zeros(mask.shape)
                want[mask.numpy().astype(bool)] = vals
            else:
                want = scatter(want, per_turn, mask.shape)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=name)
            checked.append(m["name"])
    assert {"grpo", "rloo", "trloo", "reinforce_pp", "turn_mean_baseline"} <= set(checked), checked
    assert {"gigpo", "igpo", "turn_level_gae"} <= set(need_fields), need_fields


def recorded_fields(per_turn, seed):
    """What the agent loop records per row: anchors (a few shared states) and turn
    rewards that differ from the token rewards."""
    rng = np.random.default_rng(seed)
    anchors = [[f"s{int(rng.integers(0, 3))}" for _ in t] for t in per_turn]
    turn_rewards = [[float(rng.choice([0.0, 1.0, -0.25])) for _ in t] for t in per_turn]
    return anchors, turn_rewards


def gigpo_expected(rewards, per_turn, uid, anchors, turn_rewards, params):
    offsets, gid, fields = arrays_for(rewards, per_turn, uid)
    table = {}
    fields["anchor"] = np.array([table.setdefault(a, len(table)) for t in anchors for a in t])
    fields["reward"] = np.array([x for t in turn_rewards for x in t])
    want = tw.advantages_from_arrays("gigpo", offsets, gid, params, **fields)["values"]
    return scatter(want, per_turn, rewards.shape)


def objects(values):
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def test_gigpo_with_agent_loop_fields_through_verls_own_compute_advantage():
    """The legacy trainer: verl's `ray_trainer.compute_advantage` (what `fit` calls), fed
    the non-tensor columns verl's AgentLoopManager makes of the agent loop's extra_fields."""
    from verl.trainer.ppo import ray_trainer

    twv.install()
    assert ray_trainer.RayPPOTrainer.fit.__globals__["compute_advantage"] is ray_trainer.compute_advantage
    rewards, mask, uid, per_turn = random_batch(5, dtype=torch.float64)
    anchors, turn_rewards = recorded_fields(per_turn, 5)
    data = DataProto.from_dict(
        tensors={"token_level_rewards": rewards, "response_mask": mask},
        non_tensors={
            "uid": uid,
            "turnwise_fields": objects([{"anchor": a} for a in anchors]),
            "turnwise_turn_rewards": objects(turn_rewards),
        },
    )
    with pytest.raises(tw.CreditError, match="anchor"):  # verl's own function passes no fields
        ray_trainer.compute_advantage.__wrapped__(data, "turnwise_gigpo", config={"gamma": 0.9})
    os.environ["TURNWISE_PARAMS"] = '{"gigpo": {"omega": 0.5}}'
    try:
        got = ray_trainer.compute_advantage(data, "turnwise_gigpo", config={"gamma": 0.9}).batch["advantages"].numpy()
    finally:
        del os.environ["TURNWISE_PARAMS"]
    want = gigpo_expected(rewards, per_turn, uid, anchors, turn_rewards, {"gamma": 0.9, "omega": 0.5})
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # other estimators still go to verl's own function
    out = ray_trainer.compute_advantage(data, "grpo").batch["advantages"]
    torch.testing.assert_close(out, core_algos.compute_grpo_outcome_advantage(rewards, mask, uid)[0])


class MemoryQueue:
    """verl's TransferQueue calls (kv_batch_put / kv_batch_get), in memory."""

    def __init__(self):
        self.rows = {}

    def kv_batch_put(self, keys, partition_id, fields, tags=None):
        for i, k in enumerate(keys):
            self.rows.setdefault((partition_id, k), {}).update({f: fields[f][i] for f in fields.keys()})

    def kv_batch_get(self, keys, partition_id, select_fields):
        from verl.utils.tensordict_utils import list_of_dict_to_tensordict

        rows = [self.rows[(partition_id, k)] for k in keys]
        return list_of_dict_to_tensordict([{f: r[f] for f in select_fields if f in r} for r in rows])


def test_gigpo_with_agent_loop_fields_through_verls_v1_trainer(monkeypatch):
    """verl's default (v1) trainer: its own `PPOTrainer._compute_advantage` on rows as its
    agent loop stores them (jagged tensors, the agent loop's extra_fields, the score on the
    last token); the plug-in fetches the rows' fields from the queue."""
    from omegaconf import OmegaConf
    from transfer_queue import KVBatchMeta
    from verl.trainer.ppo.v1 import trainer_base
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict

    twv.install()
    rewards, mask, uid, per_turn = random_batch(7, dtype=torch.float32)
    anchors, turn_rewards = recorded_fields(per_turn, 7)
    scores = rewards.sum(-1)
    queue, keys, rows = MemoryQueue(), [], []
    for r in range(len(uid)):
        n = per_turn[r][-1][1] + 1 + r % 3  # the row's own length
        rm = torch.zeros(n)
        rm[n - 1] = scores[r]
        keys.append(f"{uid[r]}_0_{r}")
        rows.append({
            "uid": uid[r], "response_mask": mask[r, :n].clone(), "rm_scores": rm,
            "extra_fields": {"turnwise_fields": {"anchor": anchors[r]}, "turnwise_turn_rewards": turn_rewards[r]},
        })
    queue.kv_batch_put(keys, "train", list_of_dict_to_tensordict(rows))
    monkeypatch.setattr(trainer_base, "tq", queue)
    algorithm = {"adv_estimator": "turnwise_gigpo", "use_kl_in_reward": False, "gamma": 0.9, "lam": 1.0}
    trainer = type("Trainer", (), {})()
    trainer.config = OmegaConf.create({"algorithm": algorithm, "actor_rollout_ref": {"rollout": {"n": 4}}})
    meta = KVBatchMeta(keys=keys, partition_id="train", tags=[{}] * len(keys))
    with pytest.raises(tw.CreditError, match="anchor"):  # verl's own method reads no extra_fields
        trainer_base.PPOTrainer._compute_advantage.__wrapped__(trainer, meta, {})
    trainer_base.PPOTrainer._compute_advantage(trainer, meta, {})
    want = gigpo_expected(rewards, per_turn, uid, anchors, turn_rewards, {"gamma": 0.9})
    for r, k in enumerate(keys):
        got = queue.rows[("train", k)]["advantages"].numpy()
        np.testing.assert_allclose(got, want[r, : len(got)], rtol=2e-6, atol=2e-6, err_msg=k)


def test_import_verl_loads_the_plugin():
    """`import verl` alone registered turnwise's estimators (the wheel's `verl.plugins`
    entry point; nothing in this process called `register` before it, and `import turnwise`
    registers nothing). VERL_USE_EXTERNAL_MODULES is checked in the Ray worker."""
    from importlib.metadata import entry_points

    assert [e.value for e in entry_points(group="verl.plugins") if e.name == "turnwise"] == [
        "turnwise.integrations.verl_plugin"
    ]
    assert REGISTERED_AT_IMPORT


def test_registered_inside_a_ray_worker():
    ray = pytest.importorskip("ray")
    env = {"VERL_USE_EXTERNAL_PLUGINS": "none", "VERL_USE_EXTERNAL_MODULES": "turnwise.integrations.verl_plugin"}
    # Ray waits a fixed 30 s for its raylet to register; on a loaded 2-core machine that start
    # can time out, so the start (not the check) is tried up to three times
    for attempt in range(3):
        try:
            ray.init(num_cpus=1, include_dashboard=False, runtime_env={"env_vars": env}, logging_level="ERROR")
            break
        except Exception as e:
            ray.shutdown()
            if "timed out during startup" not in str(e) or attempt == 2:
                raise
    try:

        @ray.remote
        def worker_estimates():
            import verl  # noqa: F401  (loads the plugin from VERL_USE_EXTERNAL_MODULES)
            from verl import DataProto
            from verl.trainer.ppo import ray_trainer
            from verl.trainer.ppo.core_algos import get_adv_estimator_fn

            rewards = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
            mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
            uid = np.array(["a", "a"], dtype=object)
            grpo = get_adv_estimator_fn("turnwise_grpo")(rewards, mask, index=uid)[0].numpy()
            # the trainer's advantage step, wrapped when verl imported it: rows' fields reach GiGPO
            fields = np.empty(2, dtype=object)
            fields[:] = [{"anchor": ["s"]}, {"anchor": ["s"]}]
            data = DataProto.from_dict(
                tensors={"token_level_rewards": rewards, "response_mask": mask},
                non_tensors={"uid": uid, "turnwise_fields": fields},
            )
            gigpo = ray_trainer.compute_advantage(data, "turnwise_gigpo").batch["advantages"].numpy()
            return grpo, gigpo

        # a hang guard, not a timing check: a fresh worker imports torch and verl, which took over
        # 300 s on a 2-core machine at load 14
        grpo, gigpo = ray.get(worker_estimates.remote(), timeout=1800)
    finally:
        ray.shutdown()
    np.testing.assert_allclose(grpo, [[0.7071057, 0.7071057, 0], [-0.7071057, -0.7071057, 0]], rtol=1e-6)
    assert gigpo[0, 0] > 0 > gigpo[1, 0] and gigpo[0, 0] == gigpo[0, 1] and gigpo[0, 2] == 0


def test_reward_manager_puts_turn_rewards_on_turn_ends():
    twv.install()
    mask = torch.tensor([[1, 1, 0, 0, 1, 0], [0, 1, 0, 1, 1, 0], [1, 1, 1, 0, 0, 0]])
    turn_rewards = np.array([[0.5, 1.0], [-1.0, 2.0], None], dtype=object)
    data = DataProto.from_dict(tensors={"response_mask": mask}, non_tensors={"turnwise_turn_rewards": turn_rewards})
    scores = [1.5, 3.0, 0.25]  # row 2: +2.0 beyond its turns; row 3: no per-turn rewards
    got = twv.TurnRewardManager.assemble_rm_scores(data, scores)
    want = torch.tensor([[0, 0.5, 0, 0, 1.0, 0], [0, -1.0, 0, 0, 4.0, 0], [0, 0, 0.25, 0, 0, 0]])
    torch.testing.assert_close(got, want)
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls

    assert get_reward_manager_cls("turnwise") is twv.TurnRewardManager
    # verl's v1 colocated reward step passes no response mask: the score on the last token
    no_mask = DataProto.from_dict(tensors={
        "prompts": torch.zeros(2, 3, dtype=torch.long), "responses": torch.zeros(2, 4, dtype=torch.long),
        "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 1, 1]]),
    })
    got_v1 = twv.TurnRewardManager.assemble_rm_scores(no_mask, [2.0, -1.0])
    torch.testing.assert_close(got_v1, torch.tensor([[0, 2.0, 0, 0], [0, 0, 0, -1.0]]))
    # the estimators read the same per-turn rewards back
    offsets, starts, ends = tw.turn_spans(mask.numpy())
    uid = np.array(["g"] * 3, dtype=object)
    got = tw.token_advantages("trloo", got.numpy(), mask.numpy(), uid, {"gamma": 1.0})
    want = tw.advantages_from_arrays(
        "trloo", offsets, np.zeros(3, dtype=np.int64), {"gamma": 1.0},
        outcome=np.array(scores), reward=np.array([0.5, 1.0, -1.0, 4.0, 0.25]),
    )["values"]
    np.testing.assert_allclose(got[mask.numpy().astype(bool)], np.repeat(want, ends - starts))


def test_agent_loop_plays_an_env_with_verl_masks():
    from tiny import tokenizer
    from turnwise.integrations.episodes import play

    tok = tokenizer()
    env = tw.make_env("ragen/frozenlake")
    replies = iter(["<answer>Left</answer>", "<answer>Down</answer>", "<answer>Right</answer>"] * 5)

    async def generate(prompt_ids):
        assert tok.decode(prompt_ids).endswith("<|assistant|>")
        ids = tok.encode(next(replies), add_special_tokens=False) + [tok.eos_token_id]
        return ids, [-0.5] * len(ids)

    prompt, response, mask, logprobs, rewards, anchors, _ = asyncio.run(play(env, tok, generate, 4, "chat", 4, 4096))
    assert len(response) == len(mask) == len(logprobs)
    offsets, starts, ends = tw.turn_spans(np.array([mask]))
    assert offsets[-1] == len(rewards) == len(anchors) >= 1
    assert tok.decode([response[i] for i in range(starts[0], ends[0])], skip_special_tokens=True) == "<answer>Left</answer>"
    # observation tokens (mask 0) decode to the next user turn
    if len(rewards) > 1:
        obs = tok.decode(response[ends[0] : starts[1]])
        assert obs.startswith("<|user|>") and obs.endswith("<|assistant|>")
    # the same episode from turnwise's env directly
    env2 = tw.make_env("ragen/frozenlake")
    env2.reset(4)
    assert [env2.step(a)[1] for a in ["Left", "Down", "Right", "Left"][: len(rewards)]] == rewards
