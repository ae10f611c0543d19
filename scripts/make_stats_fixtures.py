#!/usr/bin/env python3
"""Reference values for turnwise-report's statistics, computed with scipy / numpy.

Writes (or, with --check, compares against) tests/fixtures/stats_scipy.json; the Rust
tests (crates/turnwise-report/tests/scipy_fixtures.rs) check turnwise-report against it:

* the paired sign-flip permutation test: scipy.stats.permutation_test on the pairs,
  permutation_type="samples", every one of the 2^n sign patterns (n_resamples=inf);
* the paired t-test: scipy.stats.ttest_rel;
* the exact percentile bootstrap interval of a mean: every one of the n^n ordered
  resamples, equally weighted, quantiles with numpy's "inverted_cdf" (and, as a sanity
  check here, scipy.stats.bootstrap's Monte Carlo percentile interval lies close to it);
* the normalised area under a learning curve: numpy.trapezoid / step range.
"""
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "stats_scipy.json"


def pairs():
    rng = np.random.default_rng(20261130)
    cases = [
        ([97.1, 94.2, 96.9, 99.5, 98.0], [73.6, 92.3, 31.2, 97.3, 95.0]),
        ([1.0, 2.0, 3.0], [0.0, 0.0, 0.0]),
        ([10.0, 20.0, 30.0, 40.0], [12.0, 18.0, 33.0, 39.0]),
    ]
    for n in (2, 5, 5, 7, 10):
        x = np.round(rng.normal(90, 5, n), 1)
        y = np.round(x - rng.normal(1.0, 3.0, n), 1)
        cases.append((x.tolist(), y.tolist()))
    return cases


def samples():
    rng = np.random.default_rng(7)
    out = [[0.0, 1.0], [3.5], [51.5, 53.5, 55.9], [94.2, 97.1, 96.9, 99.6, 98.5]]
    for n in (4, 5, 6):
        out.append(np.round(rng.normal(80, 15, n), 1).tolist())
    return out


def exact_bootstrap_ci(xs, level=0.95):
    xs = np.asarray(xs, dtype=float)
    n = len(xs)
    means = np.array([xs[list(idx)].sum() / n for idx in itertools.product(range(n), repeat=n)])
    a = (1 - level) / 2
    return [float(np.quantile(means, a, method="inverted_cdf")),
            float(np.quantile(means, 1 - a, method="inverted_cdf"))]


def curves():
    return [
        ([0, 20, 40, 60, 80, 100], [51.5, 70.0, 88.0, 93.0, 96.0, 97.1]),
        ([0, 10, 30, 300], [50.0, -20.0, 80.0, 99.0]),
    ]


def build():
    out = {"permutation": [], "ttest": [], "bootstrap": [], "auc": []}
    for x, y in pairs():
        res = stats.permutation_test(
            (np.array(x), np.array(y)),
            lambda a, b: np.mean(a - b),
            permutation_type="samples",
            n_resamples=np.inf,
            alternative="two-sided",
        )
        out["permutation"].append({"x": x, "y": y, "p": float(res.pvalue)})
        d = np.array(x) - np.array(y)
        if len(d) > 1 and np.std(d) > 0:
            out["ttest"].append({"x": x, "y": y, "p": float(stats.ttest_rel(x, y).pvalue)})
    for xs in samples():
        lo, hi = exact_bootstrap_ci(xs)
        out["bootstrap"].append({"x": xs, "level": 0.95, "lo": lo, "hi": hi})
    for steps, scores in curves():
        area = float(np.trapezoid(scores, steps) / (steps[-1] - steps[0]))
        out["auc"].append({"steps": steps, "scores": scores, "auc": area})
    return out


def sanity(out):
    """scipy's Monte Carlo percentile bootstrap lies near the exact interval."""
    for case in out["bootstrap"]:
        xs = np.array(case["x"])
        if len(xs) < 4 or np.ptp(xs) == 0:
            continue
        res = stats.bootstrap((xs,), np.mean, method="percentile", n_resamples=200_000,
                              random_state=np.random.default_rng(0))
        ci = res.confidence_interval
        spread = np.ptp(xs)
        assert abs(ci.low - case["lo"]) < 0.03 * spread, (ci, case)
        assert abs(ci.high - case["hi"]) < 0.03 * spread, (ci, case)


def main():
    out = build()
    sanity(out)
    text = "{\n" + ",\n".join(
        f' "{k}": [\n' + ",\n".join("  " + json.dumps(c) for c in v) + "\n ]"
        for k, v in out.items()) + "\n}\n"
    if "--check" in sys.argv:
        old = json.loads(FIXTURE.read_text())
        new = json.loads(text)
        for key in new:
            assert len(old[key]) == len(new[key]), key
            for a, b in zip(old[key], new[key]):
                for k in b:
                    if isinstance(b[k], float):
                        assert abs(a[k] - b[k]) <= 1e-12 * max(1.0, abs(b[k])), (key, a, b)
                    else:
                        assert a[k] == b[k], (key, a, b)
        print(f"stats fixtures: {sum(len(v) for v in new.values())} cases match scipy/numpy")
    else:
        FIXTURE.write_text(text)
        print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
