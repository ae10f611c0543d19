#!/usr/bin/env python3
"""GRPO with the `turnwise` Python package, side by side with (1) `turnwise bench credit`
(the Rust CLI on the same ≈ 1M-turn batch) and (2) verl's vectorized GRPO in the same
Python process, on verl's token rows.

(1) The batch is the CLI's own synthetic GRPO batch (8,192 groups × 8 trajectories × 10–20
turns), exported by `turnwise bench credit --method grpo --export DIR`; the script first
checks that `turnwise.advantages_from_arrays` reproduces the CLI's advantages exactly,
then interleaves one CLI run (its median of `--runs`, thread CPU time) with the Python
call (median of `--runs`, thread CPU time: the Rust code runs on the calling thread).

(2) verl's layout: one row per trajectory, `response_mask` int64 (1 = policy token),
`token_level_rewards` float32 with each turn's reward on its last token, `index` the
rows' uid strings, as verl's trainer passes them. Layouts:
* realistic: 4,096 rows (512 prompts × 8 rollouts) × 4,096 tokens (verl's
  `max_response_length`); turns of 16–63 policy tokens separated by 8–31 observation
  tokens (mask 0), each row filled to 40–100 % of its length, then padding;
* `K` tokens per turn (`--layouts 1 32`): 65,536 rows (8,192 prompts × 8 rollouts), each
  of 10–20 turns of K policy tokens, each turn followed by one observation token (≈ 983K
  turns; K = 1 is the most turns per token there can be, K = 32 the CLI batch's turns).
verl's `compute_grpo_vectorized_outcome_advantage` is timed against the plug-in as verl
calls it (`get_adv_estimator_fn("turnwise_grpo")(token_level_rewards=…,
response_mask=…, index=…, config=…)`: the torch tensors in, a torch tensor out), sides
interleaved, each the median of `--runs` (thread CPU time, torch on 1 thread); the outputs
are checked equal first. It prints the median of the pairwise ratios with the load.

(3) The issue's comparison: GRPO over the same ≈ 1M turns from per-turn NumPy arrays
(`turnwise.advantages_from_arrays`: trajectory offsets, group ids, one outcome per
trajectory) against verl's vectorized GRPO on the same episodes in verl's own layout (the
token rows of (2)), both in this process, interleaved; the per-trajectory values are
checked equal first. Group ids are given to both sides twice: as verl's trainer makes
them (one `uuid4` string per prompt, repeated for its rollouts: `np.repeat` of an object
array) and as integers (`arange // 8`).

The uids of (2) and (3) are made as verl's trainer makes them.

    python bench/python_credit.py --turnwise target/release/turnwise
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid

import numpy as np

import turnwise as tw


def cpu_median(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.thread_time()
        fn()
        times.append(time.thread_time() - t0)
    return statistics.median(times)


def load():
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def verl_uids(rows, group=8):
    """Group ids as verl's trainer makes them: a `uuid4` string per prompt
    (`ray_trainer.py`), repeated for the prompt's `group` rollouts (`DataProto.repeat`
    with `interleave=True`: `np.repeat` of the object array, so a group's rows hold one
    string object)."""
    prompts = np.array([str(uuid.uuid4()) for _ in range(rows // group)], dtype=object)
    return np.repeat(prompts, group)


def cli_grpo_ms(turnwise, runs):
    out = subprocess.run([turnwise, "bench", "credit", "--method", "grpo", "--runs", str(runs)], capture_output=True, text=True)
    # "grpo  turns  wall ms  min ms  cpu ms ..." (exit 1 only means a target was missed)
    row = next(line for line in out.stdout.splitlines() if line.startswith("grpo "))
    return float(row.split()[4])


def compare_cli(a):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([a.turnwise, "bench", "credit", "--method", "grpo", "--runs", "1", "--export", d], check=True, capture_output=True)
        traj_offsets = np.load(f"{d}/traj_offsets.npy")
        group_offsets = np.load(f"{d}/group_offsets.npy")
        outcome = np.load(f"{d}/outcome.npy")
        cli_adv = np.load(f"{d}/adv_grpo.npy")
    groups = np.repeat(np.arange(len(group_offsets) - 1), np.diff(group_offsets))

    def ours():
        return tw.advantages_from_arrays("grpo", traj_offsets, groups, outcome=outcome)["values"]

    assert np.array_equal(ours(), cli_adv), "the Python package must reproduce the CLI's GRPO bit for bit"
    print(f"CLI batch: {int(traj_offsets[-1])} turns, {len(outcome)} trajectories, {len(group_offsets) - 1} groups; "
          "Python output == CLI output (bit for bit)")
    ratios = []
    for r in range(a.rounds):
        cli_ms = cli_grpo_ms(a.turnwise, a.runs)
        py_ms = 1e3 * cpu_median(ours, a.runs)
        ratios.append(py_ms / cli_ms)
        print(f"  round {r}: CLI {cli_ms:.2f} ms, Python {py_ms:.2f} ms, ratio {py_ms / cli_ms:.2f}  (load {load()})")
    print(f"Python / CLI (thread CPU time, median of {a.rounds} pairwise ratios): {statistics.median(ratios):.2f} "
          f"[min {min(ratios):.2f}, max {max(ratios):.2f}]; load {load()}")


def realistic(rng):
    rows, cols = 4096, 4096
    mask = np.zeros((rows, cols), np.int64)
    rewards = np.zeros((rows, cols), np.float32)
    for r in range(rows):
        c, limit = 0, int(cols * rng.uniform(0.4, 1.0))
        while True:
            n = int(rng.integers(16, 64))
            if c + n > limit:
                break
            mask[r, c : c + n] = 1
            rewards[r, c + n - 1] = rng.choice([0.0, 0.0, 1.0, -0.1])
            c += n + int(rng.integers(8, 32))
    return mask, rewards


def per_turn(rng, k):
    rows = 65536
    turns = rng.integers(10, 21, size=rows)
    cols = 20 * (k + 1)
    c = np.arange(cols)
    mask = ((c[None, :] % (k + 1) < k) & (c[None, :] < (k + 1) * turns[:, None])).astype(np.int64)
    last = (c[None, :] % (k + 1) == k - 1) & (mask == 1)
    rewards = np.where(last, rng.choice([0.0, 1.0], size=(rows, cols)), 0.0).astype(np.float32)
    return mask, rewards


def versus_verl(a, verl_side, turnwise_side, ours, title):
    """Interleaves the two sides for `a.rounds` rounds and prints the median of the
    pairwise ratios verl / turnwise."""
    ratios = []
    for r in range(a.rounds):
        v = cpu_median(verl_side, a.runs)
        t = cpu_median(turnwise_side, a.runs)
        ratios.append(v / t)
        print(f"  round {r}: verl {1e3 * v:.1f} ms, {ours} {1e3 * t:.2f} ms ({v / t:.1f}x)  (load {load()})")
    print(f"{title} (thread CPU time, torch 1 thread, median of {a.rounds} pairwise ratios): "
          f"{statistics.median(ratios):.1f}x [min {min(ratios):.1f}, max {max(ratios):.1f}]; load {load()}")


def compare_verl(a, name, mask, rewards):
    import torch
    from verl.trainer.ppo.core_algos import compute_grpo_vectorized_outcome_advantage, get_adv_estimator_fn

    from turnwise.integrations import verl as twv

    twv.register()
    plugin = get_adv_estimator_fn("turnwise_grpo")
    rows = mask.shape[0]
    uid = verl_uids(rows)
    t_rewards, t_mask = torch.from_numpy(rewards), torch.from_numpy(mask)
    config = {"norm_adv_by_std_in_grpo": True}

    def verl_side():
        return compute_grpo_vectorized_outcome_advantage(t_rewards, t_mask, uid)[0]

    def turnwise_side():
        return plugin(token_level_rewards=t_rewards, response_mask=t_mask, index=uid, config=config)[0]

    offsets, _, _ = tw.turn_spans(mask)
    ours, theirs = turnwise_side(), verl_side()
    assert ours.dtype == theirs.dtype == torch.float32 and ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)  # verl: float32 statistics
    print(f"[{name}] {rows}x{mask.shape[1]} tokens, {int(mask.sum())} policy tokens, {int(offsets[-1])} turns; "
          "plug-in output == verl's (float32 tolerance)")
    versus_verl(a, verl_side, turnwise_side, "turnwise plug-in", f"[{name}] verl grpo_vectorized / turnwise_grpo plug-in")


def compare_arrays(a, name, mask, rewards):
    import torch
    from verl.trainer.ppo.core_algos import compute_grpo_vectorized_outcome_advantage

    rows = mask.shape[0]
    t_rewards, t_mask = torch.from_numpy(rewards), torch.from_numpy(mask)
    traj_offsets, start, _ = tw.turn_spans(mask)
    outcome = rewards.sum(axis=1, dtype=np.float64)  # a row's outcome: its summed rewards
    first = start[traj_offsets[:-1]]  # each row's first policy token
    for ids_name, ids in [("verl's uuid4 uids", verl_uids(rows)), ("integer ids", np.arange(rows) // 8)]:

        def verl_side():
            return compute_grpo_vectorized_outcome_advantage(t_rewards, t_mask, ids)[0]

        def turnwise_side():
            return tw.advantages_from_arrays("grpo", traj_offsets, ids, outcome=outcome)["values"]

        ours, theirs = turnwise_side(), verl_side()
        np.testing.assert_allclose(ours[traj_offsets[:-1]], theirs.numpy()[np.arange(rows), first], rtol=1e-4, atol=1e-5)
        versus_verl(a, verl_side, turnwise_side, "turnwise arrays",
                    f"[{name}, {ids_name}] {int(traj_offsets[-1])} turns: verl grpo_vectorized on token rows / "
                    "advantages_from_arrays on per-turn arrays")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turnwise", default="target/release/turnwise", help="release build of the turnwise CLI")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--skip-verl", action="store_true")
    ap.add_argument("--skip-plugin", action="store_true", help="only (3): per-turn arrays against verl")
    ap.add_argument("--layouts", nargs="+", default=["realistic", "1", "4", "8", "32"],
                    help="verl layouts: `realistic` or K (tokens per turn)")
    a = ap.parse_args()
    if not a.skip_cli:
        compare_cli(a)
    if a.skip_verl:
        return
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    for name in a.layouts:
        mask, rewards = realistic(rng) if name == "realistic" else per_turn(rng, int(name))
        label = name if name == "realistic" else f"{name} token(s)/turn"
        if not a.skip_plugin:
            compare_verl(a, label, mask, rewards)
        compare_arrays(a, label, mask, rewards)


if __name__ == "__main__":
    main()
