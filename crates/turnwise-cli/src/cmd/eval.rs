//! `turnwise eval`: evaluate a run's latest intact checkpoint (or any saved policy folder)
//! and print JSON: success rate, mean return, mean turns, LMRL normalised score. Uses the
//! run's `run.threads`; a policy with non-finite weights is an error.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use turnwise_train::policy::{Placement, Policy};
use turnwise_train::train::{apply_threads, checkpoint, eval};

/// Arguments of `turnwise eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Run folder (its latest intact checkpoint is evaluated).
    #[arg(long)]
    run: PathBuf,
    /// Environment (default: the run's).
    #[arg(long)]
    env: Option<String>,
    /// Episodes (default: eval.episodes of the run's configuration).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    episodes: Option<u64>,
    /// Evaluate this policy folder (HF layout) instead of the latest checkpoint, e.g. RUN/warm_start.
    #[arg(long)]
    policy: Option<PathBuf>,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    let cfg = turnwise_train::config::load(Some(&args.run.join("config.toml")), &[])?;
    apply_threads(cfg.run.threads);
    let dir = match args.policy {
        Some(p) => p,
        None => {
            let scan = checkpoint::scan(&args.run)?;
            for w in scan.warnings() {
                eprintln!("{w}");
            }
            scan.intact
                .ok_or_else(|| anyhow!("{}: no intact checkpoint", args.run.display()))?
                .0
        }
    };
    let policy = Policy::load_on(&dir, Placement::of(&cfg)?)?;
    checkpoint::check_finite(&policy, &dir)?;
    let episodes = args.episodes.map_or(cfg.eval.episodes, |e| e as usize);
    let report = eval::evaluate(&policy, &cfg, args.env.as_deref(), episodes)?;
    println!(
        "{}",
        serde_json::to_string_pretty(
            &serde_json::json!({"policy": dir, "threads": tch::get_num_threads(), "report": report})
        )?
    );
    Ok(0)
}
