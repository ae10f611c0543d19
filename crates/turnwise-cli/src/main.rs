//! `turnwise`: train language-model agents with multi-turn RL and turn-level credit
//! assignment. Run `turnwise --help` for the subcommands.

mod cmd;

use clap::{Parser, Subcommand};

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
    /// List every registered environment with its options and defaults.
    Envs(cmd::envs::Args),
    /// Play an environment interactively in the terminal.
    Play(cmd::play::Args),
    /// Environment tools: expert demonstrations, replays, throughput.
    Env(cmd::env::Args),
    /// Train a byte-level BPE tokenizer on environment text; inspect tokenizations.
    Tokenizer(cmd::tokenizer::Args),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Advantages(a) => cmd::advantages::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Methods(a) => cmd::methods::run(a),
        Command::Envs(a) => cmd::envs::run(a),
        Command::Play(a) => cmd::play::run(a),
        Command::Env(a) => cmd::env::run(a),
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
