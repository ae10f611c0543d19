//! Cross-check against the Python reference on random batches made by
//! `scripts/random_turn_cases.py` (needs Python with numpy, so it is `#[ignore]`d):
//!
//! ```text
//! python3 scripts/random_turn_cases.py 1 > /tmp/random_turn.jsonl
//! TURNWISE_RANDOM_TURN_CASES=/tmp/random_turn.jsonl \
//!     cargo test -p turnwise-credit --test random_turn_reference -- --ignored
//! ```

use std::path::PathBuf;

use turnwise_core::jsonl::{self, Record};
use turnwise_credit::check::compare;
use turnwise_credit::registry;

#[test]
#[ignore = "needs a case file from scripts/random_turn_cases.py (Python + numpy)"]
fn random_reference_cases() {
    let path = PathBuf::from(
        std::env::var("TURNWISE_RANDOM_TURN_CASES")
            .expect("set TURNWISE_RANDOM_TURN_CASES to a file from scripts/random_turn_cases.py"),
    );
    let mut failures = Vec::new();
    let mut n = 0;
    for rec in jsonl::open(&path).unwrap() {
        let (line, Record::Case(case)) = rec.unwrap() else {
            panic!("not a test case")
        };
        n += 1;
        let mut diffs = Vec::new();
        match registry::run(&case.method, &case.batch, &case.params, &[]) {
            Err(e) => diffs.push(e.to_string()),
            Ok(out) => {
                compare(
                    &out.main_json(&case.batch),
                    case.expected.as_ref().unwrap(),
                    "expected",
                    &mut diffs,
                );
                if let Some(serde_json::Value::Object(exp)) = &case.expected_extra {
                    let got = out.extras_json(&case.batch);
                    for (k, v) in exp {
                        match got.get(k) {
                            Some(g) => compare(g, v, k, &mut diffs),
                            None => diffs.push(format!("{k}: not produced")),
                        }
                    }
                }
            }
        }
        if !diffs.is_empty() {
            failures.push(format!("line {line} {}: {}", case.method, diffs.join("; ")));
        }
    }
    assert!(n > 0, "no cases in {}", path.display());
    assert!(
        failures.is_empty(),
        "{} of {n} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
