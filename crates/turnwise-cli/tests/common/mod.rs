//! Shared by the command-line tests.

#![allow(dead_code)]

use std::process::{Command, Output};

/// A one-block model of width 16, five SFT steps, two-episode groups and evaluations.
pub const TINY: &[&str] = &[
    "model.d_model=16",
    "model.layers=1",
    "model.heads=2",
    "model.d_ff=32",
    "sft.steps=5",
    "sft.episodes=4",
    "env.max_turns=4",
    "env.group_size=2",
    "env.tasks_per_step=1",
    "eval.episodes=2",
    "eval.max_turns=4",
    "run.threads=1",
];

/// Runs `turnwise ARGS`.
pub fn turnwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_turnwise"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `turnwise ARGS` with an empty environment: (success, stdout, stderr).
pub fn turnwise_clean(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_turnwise"))
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}
