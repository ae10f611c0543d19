//! `turnwise eval`: evaluate a run's latest checkpoint (or any saved policy folder) and
//! print JSON: success rate, mean return, mean turns, LMRL normalised score.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use turnwise_train::policy::Policy;
use turnwise_train::train::{checkpoint, eval};

/// Arguments of `turnwise eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Run folder (its latest checkpoint is evaluated).
    #[arg(long)]
    run: PathBuf,
    /// Environment (default: the run's).
    #[arg(long)]
    env: Option<String>,
    /// Episodes (default: eval.episodes of the run's configuration).
    #[arg(long)]
    episodes: Option<usize>,
    /// Evaluate this policy folder (HF layout) instead of the latest checkpoint, e.g. RUN/warm_start.
    #[arg(long)]
    policy: Option<PathBuf>,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    let cfg = turnwise_train::config::load(Some(&args.run.join("config.toml")), &[])?;
    let dir = match args.policy {
        Some(p) => p,
        None => checkpoint::list(&args.run)?
            .pop()
            .ok_or_else(|| anyhow!("{}: no checkpoint", args.run.display()))?,
    };
    let policy = Policy::load(&dir)?;
    let report = eval::evaluate(
        &policy,
        &cfg,
        args.env.as_deref(),
        args.episodes.unwrap_or(cfg.eval.episodes),
    )?;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({"policy": dir, "report": report}))?
    );
    Ok(0)
}
