//! The trainer's subcommands end to end: `loss --check` on the reference vectors, config
//! errors with suggestions, and a tiny `train` → `eval` → `sft` round trip.

use std::path::PathBuf;

mod common;
use common::{turnwise, TINY};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn loss_check_passes_on_the_reference_vectors() {
    let out = turnwise(&[
        "loss",
        "--input",
        &fixture("vectors_outcome.jsonl"),
        "--check",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("all 21 loss cases match"), "{err}");
}

#[test]
fn misspelt_config_key_is_reported_with_a_suggestion() {
    let out = turnwise(&["train", "--set", "optim.lrr=1", "--out", "/nonexistent/x"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("optim") && err.contains("did you mean `lr`"),
        "{err}"
    );
}

#[test]
fn tiny_train_then_eval_then_sft() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.display().to_string();
    let sets: Vec<&str> = TINY.iter().copied().chain(["run.steps=2"]).collect();
    let mut args = vec!["train", "--out", &run_s];
    for s in &sets {
        args.extend(["--set", s]);
    }
    let out = turnwise(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"phase\":\"warm_start\"") && metrics.contains("\"step\":2"));
    let out = turnwise(&["eval", "--run", &run_s, "--episodes", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["episodes"], 3);
    assert!(v["report"]["normalised_score"].is_number());
    // The rollouts are readable by `turnwise advantages`.
    let last = run.join("rollouts/last.jsonl").display().to_string();
    let out = turnwise(&["advantages", "--input", &last, "--method", "grpo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SFT from `turnwise env demos` output.
    let demos = dir.path().join("demos.jsonl").display().to_string();
    let out = turnwise(&[
        "env",
        "demos",
        "--env",
        "lmrl/maze-fo",
        "--episodes",
        "4",
        "--noise",
        "0.5",
        "--out",
        &demos,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sft_out = dir.path().join("sft").display().to_string();
    let mut args = vec!["sft", "--demos", demos.as_str(), "--out", &sft_out];
    for s in &sets {
        args.extend(["--set", s]);
    }
    let out = turnwise(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("sft/model.safetensors").exists());
}
