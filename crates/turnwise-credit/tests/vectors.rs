//! Every registered method reproduces the reference vectors (copied from
//! `../shared/reference/` into `tests/fixtures/`).

use std::path::PathBuf;

use turnwise_core::jsonl::{self, Record};
use turnwise_credit::check::case_diffs;
use turnwise_credit::registry;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// Loss-side vectors; they are checked by the trainer's tests.
const LOSS_SIDE: &[&str] = &[
    "policy_loss",
    "kl_estimate",
    "disco_kl_penalty",
    "epo_phase_weight",
    "epo_history",
    "epo_entropy",
];

fn check_file(name: &str) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut failures = Vec::new();
    for rec in jsonl::open(&fixture(name)).unwrap() {
        let (line, rec) = rec.unwrap();
        let Record::Case(case) = rec else {
            panic!("{name}:{line}: not a test case")
        };
        if LOSS_SIDE.contains(&case.method.as_str()) {
            continue;
        }
        let out = match registry::run(&case.method, &case.batch, &case.params, &[]) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!(
                    "{name}:{line} {} / {}: {e}",
                    case.method, case.name
                ));
                continue;
            }
        };
        let diffs = case_diffs(
            &out.main_json(&case.batch),
            &out.extras_json(&case.batch),
            case.expected.as_ref(),
            case.expected_extra.as_ref(),
        );
        if !diffs.is_empty() {
            failures.push(format!(
                "{name}:{line} {} / {}:\n  {}",
                case.method,
                case.name,
                diffs.join("\n  ")
            ));
        }
        checked += 1;
    }
    (checked, failures)
}

#[test]
fn outcome_vectors_pass() {
    let (n, failures) = check_file("vectors_outcome.jsonl");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n >= 50, "only {n} outcome cases checked");
}

#[test]
fn turn_vectors_pass() {
    let (n, failures) = check_file("vectors_turn.jsonl");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n >= 27, "only {n} turn cases checked");
}

/// Vectors computed by the authors' own released code (verl's REINFORCE++ and
/// `masked_whiten`, the unary-feedback environment), `scripts/gen_authors_vectors.py`.
#[test]
fn authors_code_vectors_pass() {
    let (n, failures) = check_file("vectors_authors.jsonl");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(n >= 27, "only {n} authors'-code cases checked");
}
