//! `turnwise bench`: measured speed of turnwise components against reference implementations.

use anyhow::Result;

/// What to benchmark.
#[derive(clap::Subcommand)]
pub enum Bench {
    /// The policy model: train step, generation and peak memory, against PyTorch eager.
    Model(super::bench_model::Args),
}

/// Runs the benchmark; returns the exit status.
pub fn run(b: Bench) -> Result<i32> {
    match b {
        Bench::Model(a) => super::bench_model::run(a),
    }
}
