//! `turnwise bench …`: speed and memory benchmarks, one sub-subcommand per subsystem.

use anyhow::Result;

pub mod alloc;
pub mod credit;
mod npy;

/// Arguments of `turnwise bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

/// What to benchmark.
#[derive(clap::Subcommand)]
enum What {
    /// Credit-assignment estimators on synthetic batches of ≈ 1,000,000 turns.
    Credit(credit::Args),
    /// The policy model: train step, generation and peak memory, against PyTorch eager.
    Model(super::bench_model::Args),
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    match args.what {
        What::Credit(a) => credit::run(a),
        What::Model(a) => super::bench_model::run(a),
    }
}
