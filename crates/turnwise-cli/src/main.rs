//! `turnwise`: train language-model agents with multi-turn RL and turn-level credit
//! assignment. Run `turnwise --help` for the subcommands.

mod cmd;

use clap::{Parser, Subcommand};

/// mimalloc replaces malloc process-wide (including libtorch's CPU tensor allocations):
/// lower peak RSS than glibc's arenas with no loss of speed (docs/model.md, "Speed and memory").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// List every registered credit-assignment method with its paper and parameters.
    Methods(cmd::methods::Args),
    /// The policy model: score token ids, sample, create checkpoints.
    #[command(subcommand)]
    Model(cmd::model::Model),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(cmd::bench::Bench),
    /// Train a byte-level BPE tokenizer on environment text; inspect tokenizations.
    Tokenizer(cmd::tokenizer::Args),
}

fn main() {
    let cli = Cli::parse();
    turnwise_model::memory::configure_from_env();
    let code = match cli.command {
        Command::Advantages(a) => cmd::advantages::run(a),
        Command::Methods(a) => cmd::methods::run(a),
        Command::Model(m) => cmd::model::run(m),
        Command::Bench(b) => cmd::bench::run(b),
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
