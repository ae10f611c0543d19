"""The credit methods from Python: the dict API reproduces the reference vectors and the
CLI, the array API gives the dict API's numbers, bad input raises with the CLI's messages."""

import json
import subprocess

import numpy as np
import pytest

import turnwise as tw
from arrays_of import arrays_of

TOL = 1e-6


def close(a, b):
    if isinstance(b, dict):
        return isinstance(a, dict) and set(a) == set(b) and all(close(a[k], b[k]) for k in b)
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if b is None or a is None:
        return a is b
    return abs(a - b) <= TOL * max(1.0, abs(b))


def test_methods_lists_the_registry():
    ms = tw.methods()
    names = [m["name"] for m in ms]
    assert len(names) == len(set(names)) > 20
    grpo = next(m for m in ms if m["name"] == "grpo")
    assert grpo["fields"] == ["outcome"] and grpo["advantages"] and grpo["status"] == "exact"
    assert {"name": "eps", "type": "a number", "default": "0.000001", "doc": "ε added to the std"} in grpo["params"]
    assert "grpo" in tw.advantage_methods() and "ufo_reward" not in tw.advantage_methods()


def test_dict_api_reproduces_every_reference_vector(cases):
    failed = []
    for c in cases:
        main, extras = tw.advantages(c["method"], c["groups"], c.get("params"), extras=True)
        ok = close(main, c["expected"])
        for k, v in (c.get("expected_extra") or {}).items():
            ok = ok and close(extras.get(k), v)
        if not ok:
            failed.append(f'{c["method"]}/{c.get("name")}')
    assert not failed, failed
    assert len(cases) > 50


def test_dict_api_equals_the_cli(cases, turnwise_bin, tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    out = subprocess.run([turnwise_bin, "advantages", "--input", path, "--extras"], capture_output=True, text=True, check=True)
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(lines) == len(cases)
    for c, line in zip(cases, lines):
        main, extras = tw.advantages(c["method"], c["groups"], c.get("params"), extras=True)
        assert main == line["expected"], c["method"]
        assert extras == line["expected_extra"], c["method"]


def test_array_api_equals_the_dict_api(cases):
    compared = set()
    for c in cases:
        arr = arrays_of(c["groups"])
        if arr is None:
            continue
        offsets, group_ids, fields = arr
        try:
            main = tw.advantages(c["method"], c["groups"], c.get("params"))
        except tw.TurnwiseError:
            continue
        if not all(isinstance(v, list) and all(isinstance(x, float) for x in v) for v in main.values()):
            continue  # per-token or scalar outputs
        out = tw.advantages_from_arrays(c["method"], offsets, group_ids, c.get("params"), **fields)
        want = np.array([x for t in (t for g in c["groups"] for t in g["trajectories"]) for x in main[t["id"]]])
        np.testing.assert_allclose(out["values"], want, rtol=1e-12, atol=1e-12, err_msg=c["method"])
        compared.add(c["method"])
    assert {"grpo", "rloo", "gigpo", "igpo", "trloo"} <= compared, compared


def test_interleaved_groups_and_string_ids():
    rng = np.random.default_rng(0)
    n = 12
    lens = rng.integers(1, 5, n)
    offsets = np.concatenate([[0], np.cumsum(lens)])
    outcome = rng.random(n)
    groups = np.array(["a", "b", "c"] * 4, dtype=object)
    out = tw.advantages_from_arrays("rloo", offsets, groups, outcome=outcome)["values"]
    for g in "abc":
        idx = np.flatnonzero(groups == g)
        r = outcome[idx]
        loo = (r.sum() - r) / (len(r) - 1)
        for i, a in zip(idx, r - loo):
            np.testing.assert_allclose(out[offsets[i] : offsets[i + 1]], a, rtol=1e-12)


def dict_numbering(labels):
    """Ids in order of first appearance, numbered by a Python dict (the reference)."""
    seen = {}
    return np.array([seen.setdefault(x, len(seen)) for x in labels], dtype=np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_group_labels_are_numbered_as_a_python_dict_numbers_them(seed):
    # verl's uids (one uuid4 string object repeated per group), equal strings held by
    # different objects, numpy.str_, interleaved and returning labels, and labels that are
    # not strings (1, 1.0 and True are one dict key; bytes; tuples; a lone surrogate):
    # every layout must group exactly as integer ids numbered by a dict do.
    rng = np.random.default_rng(seed)
    pool = ["a", "".join(["a"]), np.str_("b"), "b", 1, 1.0, True, 2, b"a", ("a", 1), "\ud800", "é", "uid-7"]
    n = 64
    if seed % 2 == 0:  # contiguous runs of the same object, as verl's np.repeat makes them
        labels = np.repeat(np.array([pool[i] for i in rng.integers(0, len(pool), n // 4)], dtype=object), 4)
    else:  # any order, repeats far apart
        labels = np.array([pool[i] for i in rng.integers(0, len(pool), n)], dtype=object)
    lens = rng.integers(0, 4, n)
    offsets = np.concatenate([[0], np.cumsum(lens)])
    outcome = rng.random(n)
    ids = dict_numbering(labels)
    want = tw.advantages_from_arrays("grpo", offsets, ids, outcome=outcome)["values"]
    for given in (labels, list(labels)):
        got = tw.advantages_from_arrays("grpo", offsets, given, outcome=outcome)["values"]
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(outcome=np.array([1.0, np.nan])), "field `outcome`: NaN at trajectory 1 is not a finite number"),
        (dict(outcome=np.array([1, 0])), "field `outcome`: expected dtype float64 or float32, got int64"),
        (dict(outcome=np.array([1.0, 0.0, 2.0])), "field `outcome`: expected shape (2,) (one value per trajectory), got [3]"),
        (dict(outcome=[1.0, 0.0]), "field `outcome`: expected a NumPy array, got list"),
        (dict(outcome=np.array([1.0, 0.0]), reward=np.array([0.0, np.inf, 0, 0, 0])), "field `reward`: inf at turn 1 of trajectory 0 is not a finite number"),
        (dict(outcom=np.array([1.0, 0.0])), "unknown field `outcom` (did you mean `outcome`?)"),
    ],
)
def test_bad_arrays_raise(kwargs, message):
    with pytest.raises(tw.ArrayError) as e:
        tw.advantages_from_arrays("grpo", np.array([0, 2, 5]), np.array([0, 0]), **kwargs)
    assert str(e.value) == message


def test_bad_offsets_and_group_ids_raise():
    with pytest.raises(tw.ArrayError, match="traj_offsets: must not decrease"):
        tw.advantages_from_arrays("grpo", np.array([0, 3, 2]), np.array([0, 0]), outcome=np.zeros(2))
    with pytest.raises(tw.ArrayError, match="traj_offsets: must start at 0"):
        tw.advantages_from_arrays("grpo", np.array([1, 3]), np.array([0]), outcome=np.zeros(1))
    with pytest.raises(tw.ArrayError, match=r"group_ids: expected shape \(2,\)"):
        tw.advantages_from_arrays("grpo", np.array([0, 1, 2]), np.array([0]), outcome=np.zeros(2))


def test_credit_errors_carry_the_cli_messages():
    off, gid = np.array([0, 2, 3]), np.array([5, 5])
    with pytest.raises(tw.CreditError, match=r'^method gigpo needs field `anchor`, missing at trajectory "0" turn 0$'):
        tw.advantages_from_arrays("gigpo", off, gid, outcome=np.zeros(2), reward=np.zeros(3))
    with pytest.raises(tw.CreditError, match=r'^unknown method "grpp" \(did you mean "grpo"\?\)$'):
        tw.advantages_from_arrays("grpp", off, gid, outcome=np.zeros(2))
    with pytest.raises(tw.CreditError, match=r"^method grpo: parameter eps: expected a number"):
        tw.advantages_from_arrays("grpo", off, gid, {"eps": "x"}, outcome=np.zeros(2))
    g = [{"prompt_id": "p", "trajectories": [{"id": "t0", "turns": [{}]}]}]
    with pytest.raises(tw.CreditError, match=r'^method grpo needs field `outcome`, missing at trajectory "t0"$'):
        tw.advantages("grpo", g)
    g[0]["trajectories"][0]["turns"][0]["rewrd"] = 1.0
    with pytest.raises(tw.FormatError, match=r"^groups\[0\]: trajectories\[0\]\.turns\[0\]\.rewrd: unknown field `rewrd`"):
        tw.advantages("grpo", g)


def test_zero_turn_and_empty_batches():
    out = tw.advantages_from_arrays("grpo", np.array([0, 0, 2]), np.array([1, 1]), outcome=np.array([1.0, 0.0]))
    assert out["values"].shape == (2,)
    out = tw.advantages_from_arrays("grpo", np.array([0]), np.array([], dtype=np.int64), outcome=np.zeros(0))
    assert out["values"].shape == (0,)
