#!/usr/bin/env python3
"""Vectorised numpy / torch reference timings for `turnwise bench credit`.

Computes GRPO, RLOO, TRLOO and GiGPO (credit-outcome.md §1, §2, §4, §5) on the synthetic
batch that `turnwise bench credit --export DIR` writes, checks the results against the Rust
outputs exported alongside (adv_<method>.npy), and prints median wall and CPU times.

    cargo run --release -p turnwise-cli -- bench credit --export /tmp/credit-bench
    /root/.cache/turnwise/venv-torch-2.11.0/bin/python bench/credit_reference.py /tmp/credit-bench

Exported arrays (1-D, little-endian): group_offsets (trajectories of group g are
group_offsets[g]..group_offsets[g+1]), traj_offsets (turns of trajectory i),
outcome (per trajectory), reward (per turn), anchor_id (per turn; anchors interned per
group in first-seen order by the exporter, so the Python side gets integer keys for free,
whereas the Rust side hashes the anchor strings).

Every timed function starts from these flat arrays and returns one advantage per turn;
deriving the index arrays is part of the timed work. Layouts follow the public code: verl
reshapes outcomes to (groups, n) (equal group sizes), KernelGYM pads turns to
(rows, max_turns). Single-threaded (torch.set_num_threads(1)) like the Rust targets.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

EPS = 1e-6
GAMMA_GIGPO = 0.95


# ------------------------------------------------------------------ numpy
def np_index(d):
    goff, toff = d["group_offsets"], d["traj_offsets"]
    G, N, M = goff.size - 1, toff.size - 1, toff[-1]
    tlen = np.diff(toff)
    turn_traj = np.repeat(np.arange(N), tlen)
    k = np.arange(M) - toff[turn_traj]
    return G, N, tlen, turn_traj, k


def np_group_view(d, G, N):
    n = N // G
    assert n * G == N and np.all(np.diff(d["group_offsets"]) == n), "equal group sizes"
    return d["outcome"].reshape(G, n), n


def np_grpo(d):
    G, N, _, turn_traj, _ = np_index(d)
    R, n = np_group_view(d, G, N)
    if n == 1:
        a = R / (1.0 + EPS)
    else:
        a = (R - R.mean(1, keepdims=True)) / (R.std(1, ddof=1, keepdims=True) + EPS)
    return a.reshape(-1)[turn_traj]


def np_rloo(d):
    G, N, _, turn_traj, _ = np_index(d)
    R, n = np_group_view(d, G, N)
    a = R if n == 1 else R - (R.sum(1, keepdims=True) - R) / (n - 1)
    return a.reshape(-1)[turn_traj]


def np_returns(d, gamma, N, tlen, turn_traj, k):
    T = int(tlen.max())
    r = np.zeros((N, T))
    r[turn_traj, k] = d["reward"]
    G = np.zeros((N, T + 1))
    for t in range(T - 1, -1, -1):
        G[:, t] = r[:, t] + gamma * G[:, t + 1]
    mask = np.arange(T)[None, :] < tlen[:, None]
    return G[:, :T], mask


def np_trloo(d, gamma=1.0):
    G_, N, tlen, turn_traj, k = np_index(d)
    Gm, mask = np_returns(d, gamma, N, tlen, turn_traj, k)
    n = N // G_
    Gm3, m3 = Gm.reshape(G_, n, -1), mask.reshape(G_, n, -1)
    Gm3 = Gm3 * m3
    s = Gm3.sum(1, keepdims=True)
    c = m3.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(c > 1, Gm3 - (s - Gm3) / (c - 1), Gm3)
    return a.reshape(N, -1)[turn_traj, k]


def np_gigpo(d, gamma=GAMMA_GIGPO, omega=1.0):
    G_, N, tlen, turn_traj, k = np_index(d)
    n = N // G_
    R = d["outcome"]
    traj_group = np.repeat(np.arange(G_), n)
    # episode level, statistics over every step row (verl-agent default)
    w = tlen.astype(np.float64)
    rows = np.bincount(traj_group, w, G_)
    mu = np.bincount(traj_group, w * R, G_) / rows
    var = np.bincount(traj_group, w * (R - mu[traj_group]) ** 2, G_) / (rows - 1)
    ep = (R - mu[traj_group]) / (np.sqrt(var)[traj_group] + EPS)
    # step level: groups of (prompt, anchor)
    Gm, _ = np_returns(d, gamma, N, tlen, turn_traj, k)
    x = Gm[turn_traj, k]
    K = int(d["anchor_id"].max()) + 1
    key = traj_group[turn_traj] * K + d["anchor_id"]
    cnt = np.bincount(key, minlength=G_ * K).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.bincount(key, x, G_ * K) / cnt
        dev = x - m[key]
        sd = np.sqrt(np.bincount(key, dev * dev, G_ * K) / (cnt - 1))
        step = np.where(cnt[key] > 1, dev / (sd[key] + EPS), 0.0)
    return ep[turn_traj] + omega * step


# ------------------------------------------------------------------ torch
def torch_fns(torch):
    def index(d):
        goff, toff = d["group_offsets"], d["traj_offsets"]
        G, N = goff.numel() - 1, toff.numel() - 1
        tlen = toff[1:] - toff[:-1]
        turn_traj = torch.repeat_interleave(torch.arange(N), tlen)
        k = torch.arange(int(toff[-1])) - toff[turn_traj]
        return G, N, tlen, turn_traj, k

    def grpo(d):
        G, N, _, turn_traj, _ = index(d)
        R = d["outcome"].view(G, -1)
        a = (R - R.mean(1, keepdim=True)) / (R.std(1, keepdim=True) + EPS)
        return a.reshape(-1)[turn_traj]

    def rloo(d):
        G, N, _, turn_traj, _ = index(d)
        R = d["outcome"].view(G, -1)
        n = R.shape[1]
        a = R - (R.sum(1, keepdim=True) - R) / (n - 1)
        return a.reshape(-1)[turn_traj]

    def returns(d, gamma, N, tlen, turn_traj, k):
        T = int(tlen.max())
        r = torch.zeros(N, T, dtype=torch.float64)
        r[turn_traj, k] = d["reward"]
        G = torch.zeros(N, T + 1, dtype=torch.float64)
        for t in range(T - 1, -1, -1):
            G[:, t] = r[:, t] + gamma * G[:, t + 1]
        mask = torch.arange(T)[None, :] < tlen[:, None]
        return G[:, :T], mask

    def trloo(d, gamma=1.0):
        G_, N, tlen, turn_traj, k = index(d)
        Gm, mask = returns(d, gamma, N, tlen, turn_traj, k)
        n = N // G_
        Gm3, m3 = Gm.view(G_, n, -1), mask.view(G_, n, -1)
        Gm3 = Gm3 * m3
        s = Gm3.sum(1, keepdim=True)
        c = m3.sum(1, keepdim=True)
        a = torch.where(c > 1, Gm3 - (s - Gm3) / (c - 1).clamp(min=1), Gm3)
        return a.view(N, -1)[turn_traj, k]

    def gigpo(d, gamma=GAMMA_GIGPO, omega=1.0):
        G_, N, tlen, turn_traj, k = index(d)
        n = N // G_
        R = d["outcome"]
        traj_group = torch.arange(G_).repeat_interleave(n)
        w = tlen.to(torch.float64)
        rows = torch.bincount(traj_group, w, G_)
        mu = torch.bincount(traj_group, w * R, G_) / rows
        var = torch.bincount(traj_group, w * (R - mu[traj_group]) ** 2, G_) / (rows - 1)
        ep = (R - mu[traj_group]) / (var.sqrt()[traj_group] + EPS)
        Gm, _ = returns(d, gamma, N, tlen, turn_traj, k)
        x = Gm[turn_traj, k]
        K = int(d["anchor_id"].max()) + 1
        key = traj_group[turn_traj] * K + d["anchor_id"]
        cnt = torch.bincount(key, minlength=G_ * K).to(torch.float64)
        m = torch.bincount(key, x, G_ * K) / cnt
        dev = x - m[key]
        sd = (torch.bincount(key, dev * dev, G_ * K) / (cnt - 1)).sqrt()
        step = torch.where(cnt[key] > 1, dev / (sd[key] + EPS), torch.zeros_like(dev))
        return ep[turn_traj] + omega * step

    return {"grpo": grpo, "rloo": rloo, "trloo": trloo, "gigpo": gigpo}


# ------------------------------------------------------------------ timing
def timeit(fn, d, runs):
    fn(d)  # warm-up
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.thread_time()
        out = fn(d)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        del out
    return statistics.median(wall), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="folder written by `turnwise bench credit --export`")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-torch", action="store_true")
    a = ap.parse_args()
    names = ["group_offsets", "traj_offsets", "outcome", "reward", "anchor_id"]
    d = {k: np.load(os.path.join(a.dir, k + ".npy")) for k in names}
    m = int(d["traj_offsets"][-1])
    print(f"{d['group_offsets'].size - 1} groups, {d['traj_offsets'].size - 1} trajectories, {m} turns")
    impls = {"numpy": ({"grpo": np_grpo, "rloo": np_rloo, "trloo": np_trloo, "gigpo": np_gigpo}, d, lambda x: x)}
    if not a.no_torch:
        import torch

        torch.set_num_threads(1)
        td = {k: torch.from_numpy(v) for k, v in d.items()}
        impls["torch"] = (torch_fns(torch), td, lambda x: x.numpy())
    print(f"{'method':<8} {'impl':<6} {'wall ms':>9} {'cpu ms':>9} {'max |Δ| vs Rust':>17}")
    bad = 0
    for method in ["grpo", "rloo", "trloo", "gigpo"]:
        rust_path = os.path.join(a.dir, f"adv_{method}.npy")
        rust = np.load(rust_path) if os.path.exists(rust_path) else None
        for impl, (fns, data, to_np) in impls.items():
            wall, cpu = timeit(fns[method], data, a.runs)
            got = to_np(fns[method](data))
            diff = float(np.max(np.abs(got - rust))) if rust is not None else float("nan")
            bad += int(not diff <= 1e-9)
            print(f"{method:<8} {impl:<6} {wall * 1e3:9.2f} {cpu * 1e3:9.2f} {diff:17.3g}")
    print(f"load average: {' '.join(open('/proc/loadavg').read().split()[:3])}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
