//! `turnwise`: train language-model agents with multi-turn RL and turn-level credit
//! assignment. Run `turnwise --help` for the subcommands.

mod allocator;
mod cmd;
mod signals;

use clap::{Parser, Subcommand};

// mimalloc replaces malloc process-wide through its `override` feature (libtorch's CPU
// tensors included): lower peak RSS than glibc's arenas at the same speed (docs/model.md,
// "Speed and memory"). Rust's global allocator is the counting wrapper of
// `cmd::bench::alloc`, which forwards to `System`, i.e. to that same malloc.
use mimalloc as _;

/// turnwise: multi-turn RL for language-model agents, with turn-level credit assignment.
#[derive(Parser)]
#[command(name = "turnwise", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compute advantages (or shaped rewards) for trajectory groups with a registered method.
    Advantages(cmd::advantages::Args),
    /// Benchmark speed and memory (`turnwise bench credit`).
    Bench(cmd::bench::Args),
    /// List every registered credit-assignment method with its paper and parameters.
    Methods(cmd::methods::Args),
    /// Evaluate loss-side reference cases (policy loss, KL, EPO, DisCO penalty) with the trainer.
    Loss(cmd::loss::Args),
    /// Train a policy: SFT warm start then RL (default job: the built-in maze config).
    Train(cmd::train::Args),
    /// Supervised warm start on demonstrations (loss on action tokens only).
    Sft(cmd::sft::Args),
    /// Evaluate a run's policy: success rate, mean return, turns, LMRL normalised score.
    Eval(cmd::eval::Args),
    /// Compare methods: environments × methods × seeds as parallel runs, with statistics.
    Compare(cmd::compare::Args),
    /// Write a self-contained HTML report of run and compare folders.
    Report(cmd::report::Args),
    /// List every registered environment with its options and defaults.
    Envs(cmd::envs::Args),
    /// Play an environment interactively in the terminal.
    Play(cmd::play::Args),
    /// Environment tools: expert demonstrations, replays, throughput.
    Env(cmd::env::Args),
    /// The policy model: score token ids, sample, create checkpoints.
    #[command(subcommand)]
    Model(cmd::model::Model),
    /// Train a byte-level BPE tokenizer on environment text; inspect tokenizations.
    Tokenizer(cmd::tokenizer::Args),
}

fn main() {
    allocator::keep_freed_memory();
    let cli = Cli::parse();
    turnwise_openenv::register();
    turnwise_model::memory::configure_from_env();
    let code = match cli.command {
        Command::Advantages(a) => cmd::advantages::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Methods(a) => cmd::methods::run(a),
        Command::Loss(a) => cmd::loss::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Sft(a) => cmd::sft::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Envs(a) => cmd::envs::run(a),
        Command::Play(a) => cmd::play::run(a),
        Command::Env(a) => cmd::env::run(a),
        Command::Model(m) => cmd::model::run(m),
        Command::Tokenizer(a) => cmd::tokenizer::run(a),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
