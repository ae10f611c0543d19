#!/usr/bin/env python3
"""GRPO over ≈ 1,000,000 turns from NumPy arrays with the `turnwise` Python package,
side by side with (1) `turnwise bench credit` (the Rust CLI on the same batch) and (2)
verl's vectorized GRPO in the same Python process.

The batch is the CLI's own synthetic GRPO batch (8,192 groups × 8 trajectories × 10–20
turns), exported by `turnwise bench credit --method grpo --export DIR`; the script first
checks that the Python package reproduces the CLI's advantages on it exactly. Then, for
`--rounds` rounds, it interleaves the sides (A B A B …): one CLI run (its median of
`--runs` timed runs, thread CPU time) against the Python call (median of `--runs`, thread
CPU time: the Rust code runs on the calling thread with the GIL released); and verl's
`compute_grpo_vectorized_outcome_advantage` against `turnwise.advantages_from_arrays`
and `turnwise.token_advantages` on identical data (one token per turn, so verl's
`(trajectories, max turns)` tensors hold the same 1M turns). It prints the median of the
pairwise ratios, with the load average.

    python bench/python_credit.py --turnwise target/release/turnwise
"""

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

import numpy as np

import turnwise as tw


def cpu_median(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.thread_time()
        fn()
        times.append(time.thread_time() - t0)
    return statistics.median(times)


def cli_grpo_ms(turnwise, runs):
    out = subprocess.run([turnwise, "bench", "credit", "--method", "grpo", "--runs", str(runs)], capture_output=True, text=True)
    # "grpo  turns  wall ms  min ms  cpu ms ..." (exit 1 only means a target was missed)
    row = next(line for line in out.stdout.splitlines() if line.startswith("grpo "))
    return float(row.split()[4]), row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turnwise", default="target/release/turnwise", help="release build of the turnwise CLI")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-verl", action="store_true")
    ap.add_argument("--tokens-per-turn", type=int, nargs="+", default=[1, 32],
                    help="verl's layout: tokens of each turn (the CLI batch's turns have 32)")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as d:
        subprocess.run([a.turnwise, "bench", "credit", "--method", "grpo", "--runs", "1", "--export", d], check=True, capture_output=True)
        traj_offsets = np.load(f"{d}/traj_offsets.npy")
        group_offsets = np.load(f"{d}/group_offsets.npy")
        outcome = np.load(f"{d}/outcome.npy")
        cli_adv = np.load(f"{d}/adv_grpo.npy")
    groups = np.repeat(np.arange(len(group_offsets) - 1), np.diff(group_offsets))
    n_turns, n_traj = int(traj_offsets[-1]), len(outcome)

    def ours():
        return tw.advantages_from_arrays("grpo", traj_offsets, groups, outcome=outcome)["values"]

    assert np.array_equal(ours(), cli_adv), "the Python package must reproduce the CLI's GRPO bit for bit"
    print(f"batch: {n_turns} turns, {n_traj} trajectories, {len(group_offsets) - 1} groups; Python output == CLI output (bit for bit)")

    ratios, rows = [], []
    for r in range(a.rounds):
        cli_ms, row = cli_grpo_ms(a.turnwise, a.runs)
        py_ms = 1e3 * cpu_median(ours, a.runs)
        ratios.append(py_ms / cli_ms)
        rows.append((cli_ms, py_ms))
        print(f"round {r}: CLI {cli_ms:.2f} ms, Python {py_ms:.2f} ms, ratio {py_ms / cli_ms:.2f}  (load {os.getloadavg()[0]:.1f})")
    print(f"Python / CLI (thread CPU time, median of {a.rounds} pairwise ratios): {statistics.median(ratios):.2f} "
          f"[min {min(ratios):.2f}, max {max(ratios):.2f}]; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")

    if a.skip_verl:
        return
    import torch
    from verl.trainer.ppo.core_algos import compute_grpo_vectorized_outcome_advantage

    torch.set_num_threads(1)
    for tpt in a.tokens_per_turn:
        compare_verl(a, tpt, traj_offsets, groups, outcome, ours, torch, compute_grpo_vectorized_outcome_advantage)


def compare_verl(a, tpt, traj_offsets, groups, outcome, ours, torch, verl_grpo):
    """verl's layout: one row per trajectory, `tpt` policy tokens per turn, the outcome
    on the last token."""
    n_traj = len(outcome)
    lens = np.diff(traj_offsets) * tpt
    cols = int(lens.max())
    mask = (np.arange(cols)[None, :] < lens[:, None]).astype(np.int64)
    rewards = np.zeros((n_traj, cols), dtype=np.float32)
    rewards[np.arange(n_traj), lens - 1] = outcome
    t_rewards, t_mask = torch.from_numpy(rewards), torch.from_numpy(mask)
    uid = groups  # integer group ids: as_torch_index's fast path

    def verl_side():
        return verl_grpo(t_rewards, t_mask, uid)[0]

    def tokens_side():
        return tw.token_advantages("grpo", rewards, mask, groups)

    sel = mask.astype(bool)
    per_token = np.repeat(ours(), tpt)
    np.testing.assert_allclose(verl_side().numpy()[sel], per_token, rtol=1e-4, atol=1e-6)  # verl: float32
    np.testing.assert_allclose(tokens_side()[sel], per_token, rtol=1e-6, atol=1e-6)
    r_arrays, r_tokens = [], []
    for r in range(a.rounds):
        v = cpu_median(verl_side, a.runs)
        t1 = cpu_median(ours, a.runs)
        v2 = cpu_median(verl_side, a.runs)
        t2 = cpu_median(tokens_side, a.runs)
        r_arrays.append(v / t1)
        r_tokens.append(v2 / t2)
        print(f"[{tpt} token(s)/turn] round {r}: verl {1e3 * v:.1f} ms vs arrays {1e3 * t1:.1f} ms ({v / t1:.1f}x); "
              f"verl {1e3 * v2:.1f} ms vs token_advantages {1e3 * t2:.1f} ms ({v2 / t2:.1f}x)  (load {os.getloadavg()[0]:.1f})")
    print(f"[{tpt} token(s)/turn, {mask.shape[0]}x{mask.shape[1]} tokens] verl grpo_vectorized / turnwise (thread CPU time, "
          f"torch 1 thread, median of {a.rounds} pairwise ratios): arrays {statistics.median(r_arrays):.1f}x "
          f"[min {min(r_arrays):.1f}], token tensors {statistics.median(r_tokens):.1f}x [min {min(r_tokens):.1f}]; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
