//! Shared set-up of the trainer's integration tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use turnwise_train::config::{self, Config};
use turnwise_train::train::checkpoint;
use turnwise_train::train::run::Trainer;

/// No SFT and a one-block model of width 16: a step takes milliseconds.
pub const TINY: &[&str] = &[
    "sft.enabled=false",
    "model.d_model=16",
    "model.layers=1",
    "model.heads=2",
    "model.d_ff=32",
];

/// The built-in configuration with [`TINY`], `base`, then `extra` applied as
/// `--set KEY=VALUE`.
pub fn config_with(base: &[&str], extra: &[&str]) -> Config {
    let sets: Vec<String> = TINY
        .iter()
        .chain(base)
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
    config::load(None, &sets).unwrap()
}

/// The weights file of a checkpoint folder, byte for byte.
#[allow(dead_code)]
pub fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

/// Trains `tiny` (whose `run.steps` is 4, checkpointing every 2 steps) four steps straight
/// into `tmp/a`, and two steps, a resume and two more into `tmp/b`; asserts that both step-4
/// checkpoints hold the same weights and optimiser state bit for bit and that training
/// changed the weights. Returns the two step-4 checkpoint folders.
#[allow(dead_code)]
pub fn resume_matches_straight(tiny: impl Fn(&[&str]) -> Config, tmp: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (tmp.join("a"), tmp.join("b"));
    let stop = AtomicBool::new(false);
    let mut t = Trainer::start(tiny(&[]), &a, |_, _| true).unwrap();
    t.run(&stop, |_| {}).unwrap();
    let mut t = Trainer::start(tiny(&["run.steps=2"]), &b, |_, _| true).unwrap();
    t.run(&stop, |_| {}).unwrap();
    drop(t);
    let mut t = Trainer::resume(&b, &["run.steps=4".into()]).unwrap();
    assert_eq!(t.state.step, 2);
    t.run(&stop, |_| {}).unwrap();
    let ca = checkpoint::dir_of(&a, 4);
    let cb = checkpoint::dir_of(&b, 4);
    assert!(weights(&ca) == weights(&cb), "weights differ after resume");
    let two = checkpoint::dir_of(&a, 2);
    assert!(weights(&two) != weights(&ca), "training changed nothing");
    let opt = |d: &Path| std::fs::read(d.join("optimizer.safetensors")).unwrap();
    assert!(opt(&ca) == opt(&cb), "optimizer state differs after resume");
    (ca, cb)
}
