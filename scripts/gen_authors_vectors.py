#!/usr/bin/env python3
"""Test vectors computed by the authors' own released code (not re-implemented):

* REINFORCE++ / REINFORCE++-baseline: verl's `compute_reinforce_plus_plus_outcome_advantage`
  and `compute_reinforce_plus_plus_baseline_outcome_advantage` (verl/trainer/ppo/core_algos.py)
  with verl's `masked_whiten` (verl/utils/torch_functional.py), in float64;
* UFO: the unary-feedback environment's `step` (lichengliu03/unary-feedback,
  ragen/env/metamathqa/env.py), played on random answer sequences.

The functions are read from git checkouts of the two repositories (`git show HEAD:path`),
extracted with `ast` and executed as they are; nothing is copied into turnwise. Writes
tests/fixtures/vectors_authors.jsonl in the reference-vector schema (docs/formats.md).

    python3 scripts/gen_authors_vectors.py VERL_GIT_DIR UNARY_FEEDBACK_GIT_DIR
"""

import ast
import json
import random
import subprocess
import sys
import types
from collections import defaultdict
from typing import Optional

import torch


def source(repo, path):
    return subprocess.run(
        ["git", "-C", repo, "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
    ).stdout


def extract(src, names, namespace):
    """Executes the top-level functions / classes `names` of `src` (decorators dropped)."""
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names:
            node.decorator_list = []
            code = compile(ast.Module(body=[node], type_ignores=[]), "<authors>", "exec")
            exec(code, namespace)
    missing = [n for n in names if n not in namespace]
    assert not missing, missing
    return namespace


def verl_functions(repo):
    tf = extract(
        source(repo, "verl/utils/torch_functional.py"),
        ["masked_sum", "masked_mean", "masked_var", "masked_whiten"],
        {"torch": torch},
    )
    verl_F = types.SimpleNamespace(**{k: tf[k] for k in ["masked_mean", "masked_var", "masked_whiten"]})
    ns = {"torch": torch, "verl_F": verl_F, "defaultdict": defaultdict, "Optional": Optional,
          "AlgoConfig": object, "np": None}
    return extract(
        source(repo, "verl/trainer/ppo/core_algos.py"),
        ["compute_reinforce_plus_plus_outcome_advantage",
         "compute_reinforce_plus_plus_baseline_outcome_advantage"],
        ns,
    )


def rpp_case(f, rng, name, groups, gamma, baseline, reset):
    """groups: [[(outcome, [tokens per turn])]]; verl rows: a trajectory's action tokens,
    with `obs` observation tokens (mask 0) between turns when `reset`."""
    rows, masks, index, slots, wire = [], [], [], [], []
    for gi, g in enumerate(groups):
        trajs = []
        for ti, (outcome, turns) in enumerate(g):
            tid = f"g{gi}t{ti}"
            mask, where = [], []
            for k, n in enumerate(turns):
                if reset and k > 0:
                    mask += [0] * rng.randint(1, 3)
                where.append(list(range(len(mask), len(mask) + n)))
                mask += [1] * n
            rows.append((outcome, mask))
            index.append(f"p{gi}")
            slots.append((tid, where))
            trajs.append({"id": tid, "outcome": outcome,
                          "turns": [{"reward": 0.0, "tokens": n} for n in turns]})
        wire.append({"prompt_id": f"p{gi}", "trajectories": trajs})
    width = max(len(m) for _, m in rows)
    rewards = torch.zeros(len(rows), width, dtype=torch.float64)
    mask = torch.zeros(len(rows), width, dtype=torch.float64)
    for i, (outcome, m) in enumerate(rows):
        mask[i, : len(m)] = torch.tensor(m, dtype=torch.float64)
        last = max(j for j, x in enumerate(m) if x == 1)
        rewards[i, last] = outcome
    if baseline:
        adv, _ = f["compute_reinforce_plus_plus_baseline_outcome_advantage"](rewards, mask, index)
    else:
        cfg = types.SimpleNamespace(gamma=gamma)
        adv, _ = f["compute_reinforce_plus_plus_outcome_advantage"](rewards, mask, config=cfg)
    tokens = {tid: [[adv[i, j].item() for j in w] for w in where] for i, (tid, where) in enumerate(slots)}
    params = {"gamma": gamma, "baseline": baseline, "reset_at_observation": reset}
    out = [{"method": "reinforce_pp_tokens", "name": name, "params": params, "groups": wire,
            "expected": tokens}]
    first = {tid: [t[0] for t in v] for tid, v in tokens.items()}
    out.append({"method": "reinforce_pp", "name": name, "params": params, "groups": wire,
                "expected": first})
    return out


def ufo_env_class(repo):
    ns = {"BaseLanguageBasedEnv": object, "defaultdict": defaultdict, "re": __import__("re"),
          "random": random, "all_seed": None, "MetaMathQAEnvConfig": object}
    return extract(source(repo, "ragen/env/metamathqa/env.py"), ["MetaMathQAEnv"], ns)["MetaMathQAEnv"]


def ufo_case(cls, rng, name, episodes):
    """Plays each answer sequence on the upstream env (correct answer "Gold 7");
    the episode's reward sits on its last turn."""
    groups, expected = [], {}
    for ei, answers in enumerate(episodes):
        env = cls.__new__(cls)
        env.correct_answer = "Gold 7"
        env.unique_answers_count = defaultdict(int)
        env.total_valid_answers = 0
        env._step_rewards = []
        env.penalty_lambda = 0.5
        env.max_steps = 5
        env.step_num = 0
        turns, rewards = [], []
        for a in answers:
            _, r, done, info = env.step(a)
            correct, valid = env._check_answer(a)
            turns.append({"reward": 0.0, "tokens": 1, "answer": a, "correct": correct, "valid": valid})
            rewards.append(r)
            if done:
                break
        tid = f"e{ei}"
        groups.append({"prompt_id": f"p{ei}", "trajectories": [
            {"id": tid, "outcome": 0.0, "turns": turns}]})
        # upstream returns the episode total on the final step and 0 before
        expected[tid] = [0.0] * (len(rewards) - 1) + [rewards[-1]]
    return {"method": "ufo_reward", "name": name,
            "params": {"gamma": 0.5, "lam": 0.5, "max_turns": 5}, "groups": groups,
            "expected": expected}


def main():
    verl, ufo = sys.argv[1], sys.argv[2]
    rng = random.Random(20260)
    f = verl_functions(verl)
    cases = []
    # the case: one trajectory, outcome 1, two tokens (verl: 5e-5, not 0)
    cases += rpp_case(f, rng, "verl_one_trajectory_two_tokens", [[(1.0, [2])]], 1.0, False, False)
    for c in range(12):
        groups = [[(rng.choice([0.0, 1.0, round(rng.uniform(-2, 2), 3)]),
                    [rng.randint(1, 4) for _ in range(rng.randint(1, 3))])
                   for _ in range(rng.randint(1, 4))] for _ in range(rng.randint(1, 3))]
        gamma = rng.choice([1.0, 0.9])
        baseline = c % 3 == 2
        reset = c % 3 == 1
        cases += rpp_case(f, rng, f"verl_random_{c}", groups, gamma, baseline, reset)
    cls = ufo_env_class(ufo)
    pool = ["gold 7", "Gold7", " GOLD 7 ", "x", "X", " x", "4 2", "42", "y", "Y y"]
    eps = [["x", "X"]]  # the case, with max_turns 5 it continues: add a third
    eps[0] += ["gold7"]
    for _ in range(20):
        eps.append([rng.choice(pool) for _ in range(rng.randint(1, 6))])
    cases.append(ufo_case(cls, rng, "unary_feedback_random", eps))
    with open("tests/fixtures/vectors_authors.jsonl", "w") as out:
        for c in cases:
            out.write(json.dumps(c) + "\n")
    print(f"{len(cases)} cases")


if __name__ == "__main__":
    main()
