//! `turnwise envs`, `env replay`, `env demos` end to end.

use std::process::{Command, Output};

fn turnwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_turnwise"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = tempfile::tempdir().unwrap().keep();
    d.join(name)
}

#[test]
fn envs_lists_every_environment_with_defaults() {
    let o = turnwise(&["envs"]);
    assert!(o.status.success());
    let s = String::from_utf8(o.stdout).unwrap();
    for name in ["lmrl/maze-fo", "lmrl/wordle", "ragen/sokoban", "try-again"] {
        assert!(s.contains(name), "{name}");
    }
    assert!(s.contains("--option start=random"));
}

#[test]
fn replay_prints_one_json_line_per_step() {
    let actions = tmp("actions.txt");
    std::fs::write(&actions, "move up\nmove right\nfoo\\nbar\n").unwrap();
    let o = turnwise(&[
        "env",
        "replay",
        "--env",
        "lmrl/maze-fo",
        "--seed",
        "0",
        "--option",
        "start=5,3",
        "--actions",
        actions.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["observation"], "The goal is at position 8, 6. Your current position is at position 5, 3. There are walls to your left, below you.\n");
    assert_eq!(lines[1]["reward"], -1.0);
    assert_eq!(lines[1]["info"]["state_key"], "4,3");
    assert_eq!(lines[3]["action"], "foo\nbar");
    assert_eq!(lines[3]["reward"], -4.0);
    assert_eq!(lines[3]["info"]["action_valid"], false);
}

#[test]
fn bad_option_and_env_are_clear_errors() {
    let o = turnwise(&["play", "--env", "lmrl/maze-fo", "--option", "strat=1,1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `start`"));
    let o = turnwise(&[
        "env",
        "bench",
        "--env",
        "ragen/sokobam",
        "--seconds",
        "0.01",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("ragen/sokoban"));
}

#[test]
fn demos_write_trajectory_groups() {
    let out = tmp("demos.jsonl");
    let o = turnwise(&[
        "env",
        "demos",
        "--env",
        "lmrl/maze-fo",
        "--episodes",
        "30",
        "--noise",
        "0.1",
        "--group-size",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let batch = turnwise_core::jsonl::read_batch(&out).unwrap();
    assert_eq!(batch.groups.len(), 30);
    assert_eq!(batch.num_trajectories(), 60);
    for g in &batch.groups {
        assert!(g
            .trajectories
            .iter()
            .all(|t| t.outcome == Some(t.total_reward())));
    }
    let summary: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert!(summary["lmrl_normalised_score"].as_f64().unwrap() > 90.0);
}
