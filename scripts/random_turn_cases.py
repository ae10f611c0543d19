"""Random cross-check cases for the turn-level estimators: random batches in the vector
schema (credit-turn.md §0.3) with the expected values of the Python reference
(shared/reference/credit_turn.py).

    python3 scripts/random_turn_cases.py SEED > /tmp/random_turn.jsonl
    TURNWISE_RANDOM_TURN_CASES=/tmp/random_turn.jsonl \
        cargo test -p turnwise-credit --test random_turn_reference -- --ignored

Needs numpy. MatchTIR's true-Hungarian variant is left out (random similarities tie, and
ties may resolve to different optima); it is checked against brute force in
tests/properties_turn.rs.
"""
import json, random, sys, math
import os
sys.path.insert(0, os.environ.get('TURNWISE_REFERENCE', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'reference')))
import credit_turn as ct
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
R = random.random
def maybe(p, v): return v if R() < p else None
TOOLS = ["search", "weather", "lookup"]
def call(gt=False):
    args = {}
    for _ in range(random.randint(0, 3)):
        args[random.choice(["q", "k", "city", "x"])] = random.choice([1, 1.0, "1", "paris", 2, True])
    return {"name": random.choice(TOOLS + ["Search"]), ("parameters" if gt else "arguments"): args}
def traj(i, method):
    T = random.randint(1, 6)
    nref = random.choice([1, 1, 2, 3])
    def lp():
        if method == "siop" and nref > 1:
            return [maybe(0.9, -3 * R()) for _ in range(nref)]
        return maybe(0.9, -3 * R())
    turns = []
    for t in range(T):
        tu = {"reward": random.choice([0.0, -1.0, 1.0, R()]), "score": None, "tokens": 3, "gold_logprob": lp()}
        if method == "pbsd": tu.update(teacher_logprob=-5 * R(), student_logprob=-5 * R())
        if method == "matchtir":
            tu["tool_calls"] = [call() for _ in range(random.randint(0, 3))]
            tu["answer_f1"] = R() if (t == T - 1 and R() < 0.8) else None
        if method == "hiper_hae": tu.update(switch=R() < 0.4, value_high=R(), value_low=R())
        if method == "archer":
            tu.update(q=[R(), R()], v=[R(), R()], v_target_next=[R(), R()], q_target_pi=[R(), R()])
        if method == "turn_level_gae": tu["value"] = R()
        turns.append(tu)
    tr = {"id": f"t{i}", "turns": turns, "outcome": random.choice([0.0, 1.0, 0.5, -2.0, R()]),
          "truncated": R() < 0.2, "gold_logprob_initial": lp() if R() < 0.95 else None}
    if method == "siop":
        tr["answer_cluster"] = random.choice(["A", "B", "C", None])
        tr["evidence"] = maybe(0.7, R())
    if method == "hiper_hae": tr["bootstrap_value_high"] = R()
    if method == "turn_level_gae": tr["bootstrap_value"] = R()
    return tr
PARAMS = {
  "igpo": [{}, {"norm_mode": "separate"}, {"info_gain_type": "log_prob_diff", "gamma": 0.9, "norm_by_std": False, "w_ig": 0.5, "w_outcome": 0.7}],
  "a2tgpo": [{}, {"gamma": 0.8, "answer_turn_clip": "adaptive", "beta": 0.5}],
  "siop": [{}, {"eta": 0.0}, {"gamma": 0.9, "lam": 0.2, "eta": 2.0}],
  "pbsd": [{}, {"mode": "additive", "beta": 0.3, "clip_s": 1.0}, {"kappa": 3.0}],
  "matchtir": [{}, {"unmatched_penalty": -0.5}, {"assignment": "ot"}, {"assignment": "ot", "ot_reg": 0.5}],
  "hiper_hae": [{}, {"gamma": 0.9, "lam_high": 0.7, "lam_low": 0.5}],
  "archer": [{}, {"bootstrap_truncated": True}],
  "turn_level_gae": [{}, {"whiten": True, "lam": 0.5}],
}
n = 0
for method, plist in PARAMS.items():
    for params in plist:
        for rep in range(25):
            groups = []
            k = 0
            for gi in range(random.randint(1, 3)):
                trajs = []
                for _ in range(random.randint(1, 6)):
                    trajs.append(traj(k, method)); k += 1
                g = {"prompt_id": f"p{gi}", "trajectories": trajs}
                if method == "matchtir": g["gt_tool_calls"] = [call(True) for _ in range(random.randint(0, 4))]
                groups.append(g)
            try:
                res = ct.METHODS[method](json.loads(json.dumps(groups)), params)
            except Exception as e:
                continue
            extra = {key: res[key] for key in ct.EXTRA_KEYS[method]}
            print(json.dumps({"method": method, "name": f"random{rep}", "note": "", "params": params,
                              "groups": groups, "expected": res["advantages"], "expected_extra": extra}))
            n += 1
print(n, file=sys.stderr)
