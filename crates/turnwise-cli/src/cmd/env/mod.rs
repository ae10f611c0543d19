//! `turnwise env demos | replay | bench`: expert demonstrations, scripted replays, and
//! environment throughput.

mod bench_hosted;
mod replay;
mod serve;

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;
use turnwise_core::jsonl::AtomicWriter;
use turnwise_core::seed::{task_seed, Split};
use turnwise_envs::demos::{self, DemoConfig};
use turnwise_envs::render::Style;
use turnwise_envs::{bench, registry, score};

/// Arguments of `turnwise env`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Write expert demonstrations (turnwise group lines) with ε-random noise.
    Demos(DemosArgs),
    /// Replay policy outputs from a file: one JSON line for the reset and one per step.
    Replay(replay::Args),
    /// Single-threaded steps per second of each environment, observations rendered; for
    /// TextWorld / ScienceWorld, through their server next to the package's Python loop.
    Bench(BenchArgs),
    /// Serve an environment over the OpenEnv protocol (WebSocket sessions at /ws).
    Serve(serve::Args),
}

#[derive(clap::Args)]
struct DemosArgs {
    /// Environment name.
    #[arg(long)]
    env: String,
    /// Number of episodes (groups).
    #[arg(long)]
    episodes: u64,
    /// Probability that an action is uniformly random instead of the expert's.
    #[arg(long, default_value_t = 0.0)]
    noise: f64,
    /// Run seed: episode i uses the training task seed `task_seed(seed, train, i)`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Episodes per group (members share the task seed).
    #[arg(long, default_value_t = 1)]
    group_size: usize,
    /// Recorded text format: faithful or chat.
    #[arg(long, default_value = "faithful")]
    style: Style,
    /// Response budget stated in RAGEN's prompt (give the trainer's
    /// `sampling.max_action_tokens` when the file is an `sft.demos` warm start).
    #[arg(long, default_value_t = 100)]
    max_tokens: usize,
    /// Option override `KEY=VALUE` (repeatable).
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Output file (JSON Lines, one group per line), written atomically.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Environment (all when absent).
    #[arg(long)]
    env: Option<String>,
    /// Seconds per environment.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Option override `KEY=VALUE` (repeatable; hosted environments).
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Expert episodes per side and round (hosted environments).
    #[arg(long, default_value_t = 4)]
    episodes: usize,
    /// Interleaved rounds (hosted environments).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    match args.command {
        Sub::Demos(a) => run_demos(a),
        Sub::Replay(a) => replay::run(a),
        Sub::Bench(a) => run_bench(a),
        Sub::Serve(a) => serve::run(a),
    }
}

fn run_demos(a: DemosArgs) -> Result<i32> {
    if !(0.0..=1.0).contains(&a.noise) {
        anyhow::bail!("--noise {}: expected a probability in [0, 1]", a.noise);
    }
    let mut env = registry::make_from_strings(&a.env, &a.options)?;
    let cfg = DemoConfig {
        noise: a.noise,
        style: a.style,
        max_turns: 10_000,
        max_tokens: a.max_tokens,
    };
    let mut rng = turnwise_core::seed::rng(a.seed, 0xde305);
    let mut w = AtomicWriter::create(&a.out)?;
    let (mut ret, mut succ, mut n) = (0.0, 0usize, 0usize);
    for i in 0..a.episodes {
        let seed = task_seed(a.seed, Split::Train, i);
        let g = demos::group(env.as_mut(), &a.env, seed, a.group_size, &cfg, &mut rng);
        for t in &g.trajectories {
            ret += t.outcome.unwrap_or(0.0);
            succ += usize::from(t.success == Some(true));
            n += 1;
        }
        w.write_group(&g)?;
    }
    w.commit()?;
    let mean = ret / n.max(1) as f64;
    let mut summary = json!({"env": a.env, "episodes": n, "mean_return": mean,
        "success_rate": succ as f64 / n.max(1) as f64, "out": a.out});
    if let Some(norm) = score::for_env(&a.env) {
        summary["lmrl_normalised_score"] = json!(norm.score(mean));
    }
    eprintln!("{summary}");
    Ok(0)
}

fn run_bench(a: BenchArgs) -> Result<i32> {
    if let Some(name) = a.env.as_deref() {
        if turnwise_openenv::hosted::hosted_game(name).is_some() {
            return bench_hosted::run(name, &a.options, a.episodes, a.rounds.max(1));
        }
    }
    let names: Vec<&str> = match &a.env {
        Some(n) => vec![registry::get(n)?.name],
        None => registry::ALL.iter().map(|s| s.name).collect(),
    };
    for name in names {
        let mut env = registry::make(name, &[])?;
        let r = bench::run(env.as_mut(), 1, a.seconds);
        println!(
            "{name:<16} {:>12.0} steps/s  {:>10.0} steps/s incl. resets  ({} steps, {} episodes, step {:.2} s, reset {:.2} s, instance {} bytes)",
            r.steps_per_second(),
            r.steps_per_second_with_resets(),
            r.steps,
            r.episodes,
            r.step_seconds,
            r.reset_seconds,
            std::mem::size_of_val(&*env)
        );
    }
    Ok(0)
}
