//! `turnwise train`: SFT warm start (when enabled) then RL, per the configuration
//! (default: the built-in `configs/maze.toml`). Ctrl-C saves a checkpoint before exiting.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use turnwise_train::config;
use turnwise_train::train::run::Trainer;

/// Arguments of `turnwise train`.
#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (TOML); default: the built-in configs/maze.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override `KEY=VALUE` on a dotted path (repeatable), e.g. `--set optim.lr=3e-4`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Run folder (overrides run.out).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Resume the run in this folder from its latest checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    ctrlc::set_handler(move || s2.store(true, Ordering::SeqCst))?;
    let mut trainer = match &args.resume {
        Some(dir) => Trainer::resume(dir, &args.sets)?,
        None => {
            let mut cfg = config::load(args.config.as_deref(), &args.sets)?;
            if let Some(o) = &args.out {
                cfg.run.out = o.display().to_string();
            }
            if cfg.run.threads > 0 {
                tch::set_num_threads(cfg.run.threads as i32);
            }
            let out = PathBuf::from(&cfg.run.out);
            let sft_bar = ProgressBar::new(cfg.sft.steps);
            sft_bar.set_style(ProgressStyle::with_template(
                "sft {bar:30} {pos}/{len} eta {eta} {msg}",
            )?);
            let t = Trainer::start(cfg, &out, |_, nll| {
                sft_bar.inc(1);
                sft_bar.set_message(format!("nll {nll:.3}"));
                !stop.load(Ordering::SeqCst)
            })?;
            sft_bar.finish();
            t
        }
    };
    if let Some(line) = last_line(&trainer.out, "warm_start") {
        eprintln!("warm start: {line}");
    }
    let bar = ProgressBar::new(trainer.cfg.run.steps);
    bar.set_style(ProgressStyle::with_template(
        "rl {bar:30} {pos}/{len} [{elapsed_precise} eta {eta}] {msg}",
    )?);
    bar.set_position(trainer.state.step);
    let result = trainer.run(&stop, |m| {
        bar.set_position(m.step);
        bar.set_message(format!(
            "return {:.1} success {:.2} entropy {:.3} tok/s {:.0}",
            m.r#return, m.success, m.entropy, m.gen_tokens_per_s
        ));
    })?;
    bar.finish();
    println!("{result}");
    Ok(0)
}

fn last_line(out: &std::path::Path, phase: &str) -> Option<String> {
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).ok()?;
    text.lines()
        .rfind(|l| l.contains(&format!("\"phase\":\"{phase}\"")))
        .map(str::to_owned)
}
