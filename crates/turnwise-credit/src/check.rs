//! Comparing computed outputs with reference vectors: `|a − b| ≤ 1e-6·max(1, |b|)`
//! (`credit-turn.md` §0.3), with readable per-value diffs.

use serde_json::Value;

/// Compares `got` with `expected` at `|a − b| ≤ 1e-6·max(1, |b|)`, recording readable diffs.
pub fn compare(got: &Value, expected: &Value, path: &str, diffs: &mut Vec<String>) {
    match (got, expected) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            let close = (a - b).abs() <= 1e-6 * b.abs().max(1.0);
            if !close {
                diffs.push(format!("{path}: got {a}, expected {b}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                diffs.push(format!(
                    "{path}: got {} values, expected {}",
                    a.len(),
                    b.len()
                ));
                return;
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(x, y, &format!("{path}[{i}]"), diffs);
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for (k, y) in b {
                match a.get(k) {
                    Some(x) => compare(x, y, &format!("{path}.{k}"), diffs),
                    None => diffs.push(format!("{path}.{k}: missing")),
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                diffs.push(format!("{path}.{k}: unexpected"));
            }
        }
        (a, b) if a == b => {}
        (a, b) => diffs.push(format!("{path}: got {a}, expected {b}")),
    }
}

/// All differences between a computed output (`main`, and `extras` shaped like
/// `expected_extra`) and a test case's `expected` / `expected_extra`.
pub fn case_diffs(
    main: &Value,
    extras: &Value,
    expected: Option<&Value>,
    expected_extra: Option<&Value>,
) -> Vec<String> {
    let mut diffs = Vec::new();
    match expected {
        Some(exp) => compare(main, exp, "expected", &mut diffs),
        None => diffs.push("case has no `expected`".to_owned()),
    }
    if let Some(Value::Object(exp)) = expected_extra {
        for (k, v) in exp {
            match extras.get(k) {
                Some(got) => compare(got, v, &format!("expected_extra.{k}"), &mut diffs),
                None => diffs.push(format!("expected_extra.{k}: not produced")),
            }
        }
    }
    diffs
}

/// The readable report of a mismatching case: a heading naming the place, then one diff a line.
pub fn mismatch_report(place: &str, method: &str, name: &str, diffs: &[String]) -> String {
    let mut s = format!("MISMATCH {place} ({method} / {name}):");
    for d in diffs {
        s.push_str("\n  ");
        s.push_str(d);
    }
    s
}
