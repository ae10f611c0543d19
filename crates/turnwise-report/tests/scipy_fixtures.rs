//! turnwise-report's statistics against scipy / numpy: tests/fixtures/stats_scipy.json,
//! written by scripts/make_stats_fixtures.py (which scripts/test.d re-runs with --check).

use serde_json::Value;
use turnwise_report::curve::{auc, Point};
use turnwise_report::stats::{bootstrap_ci, paired_t_p, sign_flip_p};

fn fixture() -> Value {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/stats_scipy.json"
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn diffs(case: &Value) -> Vec<f64> {
    floats(&case["x"])
        .iter()
        .zip(floats(&case["y"]))
        .map(|(a, b)| a - b)
        .collect()
}

#[test]
fn sign_flip_p_matches_scipy_permutation_test() {
    let f = fixture();
    let cases = f["permutation"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for c in cases {
        let p = sign_flip_p(&diffs(c), 0).unwrap();
        let want = c["p"].as_f64().unwrap();
        assert!((p - want).abs() < 1e-12, "{c}: {p} vs {want}");
    }
}

#[test]
fn paired_t_matches_scipy_ttest_rel() {
    let f = fixture();
    for c in f["ttest"].as_array().unwrap() {
        let p = paired_t_p(&diffs(c)).unwrap();
        let want = c["p"].as_f64().unwrap();
        assert!(
            (p - want).abs() < 1e-9 * want.max(1e-3),
            "{c}: {p} vs {want}"
        );
    }
}

#[test]
fn exact_bootstrap_matches_numpy_brute_force() {
    let f = fixture();
    for c in f["bootstrap"].as_array().unwrap() {
        let ci = bootstrap_ci(&floats(&c["x"]), c["level"].as_f64().unwrap(), 0).unwrap();
        let (lo, hi) = (c["lo"].as_f64().unwrap(), c["hi"].as_f64().unwrap());
        assert!(
            (ci.lo - lo).abs() < 1e-9 && (ci.hi - hi).abs() < 1e-9,
            "{c}: {ci:?}"
        );
    }
}

#[test]
fn auc_matches_numpy_trapezoid() {
    let f = fixture();
    for c in f["auc"].as_array().unwrap() {
        let pts: Vec<Point> = floats(&c["steps"])
            .iter()
            .zip(floats(&c["scores"]))
            .map(|(&s, score)| Point {
                step: s as u64,
                seconds: 0.0,
                score,
            })
            .collect();
        let a = auc(&pts).unwrap();
        let want = c["auc"].as_f64().unwrap();
        assert!((a - want).abs() < 1e-9, "{c}: {a} vs {want}");
    }
}
