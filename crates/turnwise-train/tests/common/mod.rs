//! Shared set-up of the trainer's integration tests.

use turnwise_train::config::{self, Config};

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
