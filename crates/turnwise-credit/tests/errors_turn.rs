//! Missing model quantities are errors naming the field, the method and the place
//! (`credit-turn.md`; IGPO's and A²TGPO's per-trajectory fallback excepted).

use std::path::Path;

use serde_json::{Map, Value};
use turnwise_core::jsonl::{self, Record};
use turnwise_core::Batch;
use turnwise_credit::{registry, CreditError};

/// A batch from groups in the vector schema (`credit-turn.md` §0.3).
fn batch(groups: &str) -> Batch {
    let line = format!(r#"{{"method": "x", "name": "x", "params": {{}}, "groups": {groups}}}"#)
        .replace('\n', " ");
    match jsonl::parse_record(&line, Path::new("inline.jsonl"), 1).unwrap() {
        Record::Case(c) => c.batch,
        _ => panic!("not a case"),
    }
}

fn missing(method: &str, b: &Batch) -> (String, String) {
    match registry::run(method, b, &Map::<String, Value>::new(), &[]) {
        Err(CreditError::MissingField {
            method: m,
            field,
            location,
        }) => {
            assert_eq!(m, method);
            (field.to_owned(), location)
        }
        other => panic!("{method}: expected MissingField, got {other:?}"),
    }
}

const TWO_TURNS: &str = r#"[{"prompt_id": "p0", "trajectories": [
    {"id": "t0", "outcome": 1.0, "turns": [{"reward": 0.5}, {"reward": 1.0}]},
    {"id": "t1", "outcome": 0.0, "turns": [{"reward": 0.0}, {"reward": 0.0}]}]}]"#;

#[test]
fn model_quantities_are_required() {
    let b = batch(TWO_TURNS);
    assert_eq!(missing("igpo", &b).0, "gold_logprob_initial");
    assert_eq!(missing("a2tgpo", &b).0, "gold_logprob_initial");
    assert_eq!(
        missing("pbsd", &b),
        ("teacher_logprob".into(), "trajectory \"t0\" turn 0".into())
    );
    assert_eq!(missing("archer", &b).0, "q");
    assert_eq!(missing("turn_level_gae", &b).0, "value");
    assert_eq!(missing("hiper_hae", &b).0, "value_high");
}

#[test]
fn siop_needs_log_probs_and_matchtir_ground_truth() {
    let b = batch(
        r#"[{"prompt_id": "p0", "trajectories": [
        {"id": "t0", "answer_cluster": "A", "turns": [{"reward": null}, {"reward": null}]},
        {"id": "t1", "answer_cluster": "A", "turns": [{"reward": null}]}]}]"#,
    );
    assert_eq!(missing("siop", &b).0, "gold_logprob");
    let b = batch(
        r#"[{"prompt_id": "p0", "trajectories": [
        {"id": "t0", "turns": [{"reward": null, "tool_calls": [{"name": "f", "arguments": {}}]}]}]}]"#,
    );
    assert_eq!(
        missing("matchtir", &b),
        ("gt_tool_calls".into(), "group \"p0\"".into())
    );
}

#[test]
fn igpo_falls_back_per_trajectory_when_some_log_probs_exist() {
    // t1 lacks its log-prob: outcome-only fallback, every turn shares one advantage.
    let b = batch(
        r#"[{"prompt_id": "p0", "trajectories": [
        {"id": "t0", "outcome": 1.0, "gold_logprob_initial": -2.0, "turns": [{"reward": null, "gold_logprob": -1.0}, {"reward": null}]},
        {"id": "t1", "outcome": 0.0, "gold_logprob_initial": -2.0, "turns": [{"reward": null}, {"reward": null}]}]}]"#,
    );
    let out = registry::run("igpo", &b, &Map::new(), &[]).unwrap();
    let v = out.turn_values().unwrap();
    assert_eq!(v.traj(1)[0], v.traj(1)[1]);
    assert_ne!(v.traj(0)[0], v.traj(0)[1]);
}

#[test]
fn truncated_critic_methods_need_a_bootstrap_value() {
    let b = batch(
        r#"[{"prompt_id": "p0", "trajectories": [
        {"id": "t0", "truncated": true, "turns": [{"reward": 0.0, "value": 0.1, "value_high": 0.1, "value_low": 0.2}]}]}]"#,
    );
    assert_eq!(missing("turn_level_gae", &b).0, "bootstrap_value");
    assert_eq!(missing("hiper_hae", &b).0, "bootstrap_value_high");
}
