//! `turnwise train`: SFT warm start (when enabled) then RL, per the configuration
//! (default: the built-in `configs/maze.toml`). A folder that already holds a run is
//! refused (`--resume` continues it, `--force` moves it aside); Ctrl-C or SIGTERM finishes
//! the step, saves a checkpoint and exits with status 130, saying how to resume.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use turnwise_train::config;
use turnwise_train::train::resume::ResumeOptions;
use turnwise_train::train::run::{StopReason, Trainer};
use turnwise_train::train::run_dir;

use crate::signals;

/// Arguments of `turnwise train`.
#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (TOML); default: the built-in configs/maze.toml. With --resume:
    /// the configuration to continue with (keys that cannot change are refused by name).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override `KEY=VALUE` on a dotted path (repeatable), e.g. `--set optim.lr=3e-4`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Run folder (overrides run.out). With --resume it must name the same folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Resume the run in this folder from its latest intact checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Start fresh even if the run folder holds a run: the old run is moved to
    /// FOLDER.old-N (never deleted).
    #[arg(long, conflicts_with = "resume")]
    force: bool,
}

/// Whether `a` and `b` name the same folder.
fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn sft_bar(steps: u64) -> Result<ProgressBar> {
    let bar = ProgressBar::new(steps);
    bar.set_style(ProgressStyle::with_template(
        "sft {bar:30} {pos}/{len} eta {eta} {msg}",
    )?);
    Ok(bar)
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    let stop = signals::install()?;
    let (trainer, folder) = match start_or_resume(&args, &stop) {
        Ok(t) => t,
        Err((e, folder)) if stop.load(Ordering::SeqCst) => {
            eprintln!("{e:#}");
            if let Some(f) = folder {
                eprintln!(
                    "interrupted before the first checkpoint; resume with `turnwise train \
                     --resume {}` (it starts the warm start over)",
                    f.display()
                );
            }
            return Ok(signals::INTERRUPTED);
        }
        Err((e, _)) => return Err(e),
    };
    let mut trainer = trainer;
    let bar = ProgressBar::new(trainer.cfg.run.steps);
    bar.set_style(ProgressStyle::with_template(
        "rl {bar:30} {pos}/{len} [{elapsed_precise} eta {eta}] {msg}",
    )?);
    bar.set_position(trainer.state.step);
    let end = trainer.run(&stop, |m| {
        bar.set_position(m.step);
        bar.set_message(format!(
            "return {:.1} success {:.2} entropy {:.3} tok/s {:.0}",
            m.r#return, m.success, m.entropy, m.gen_tokens_per_s
        ));
    });
    bar.finish();
    let end = end?;
    if end.stopped_by == StopReason::Interrupted {
        eprintln!(
            "interrupted after step {}; checkpoint {}. Resume with `turnwise train --resume {}`",
            trainer.state.step,
            end.checkpoint.display(),
            folder.display()
        );
        return Ok(signals::INTERRUPTED);
    }
    println!("{}", end.line);
    Ok(0)
}

type StartError = (anyhow::Error, Option<PathBuf>);

/// A fresh or resumed trainer and its folder; on error, the folder once it is a run.
fn start_or_resume(args: &Args, stop: &AtomicBool) -> Result<(Trainer, PathBuf), StartError> {
    match &args.resume {
        Some(dir) => {
            if let Some(o) = &args.out {
                if !same_folder(o, dir) {
                    return Err((
                        anyhow::anyhow!(
                            "--out {} with --resume {}: a resumed run stays in its folder \
                             (copy the folder first to branch it)",
                            o.display(),
                            dir.display()
                        ),
                        None,
                    ));
                }
            }
            let opts = ResumeOptions {
                config: args.config.clone(),
                sets: args.sets.clone(),
            };
            let steps =
                config::load(Some(&dir.join("config.toml")), &[]).map_or(0, |c| c.sft.steps);
            let bar = sft_bar(steps).map_err(|e| (e, None))?;
            let r = Trainer::resume_with(dir, &opts, |_, nll| {
                bar.inc(1);
                bar.set_message(format!("nll {nll:.3}"));
                !stop.load(Ordering::SeqCst)
            })
            .map_err(|e| (e, Some(dir.clone())))?;
            bar.finish_and_clear();
            for w in &r.warnings {
                eprintln!("{w}");
            }
            if let Some(ck) = &r.from {
                eprintln!(
                    "resumed from {} (step {})",
                    ck.display(),
                    r.trainer.state.step
                );
            }
            for c in &r.changes {
                eprintln!("changed on resume: {}", c.describe());
            }
            Ok((r.trainer, dir.clone()))
        }
        None => {
            let mut cfg =
                config::load(args.config.as_deref(), &args.sets).map_err(|e| (e.into(), None))?;
            if let Some(o) = &args.out {
                cfg.run.out = o.display().to_string();
            }
            let out = PathBuf::from(&cfg.run.out);
            if args.force {
                if let Some(to) = run_dir::move_aside(&out).map_err(|e| (e, None))? {
                    eprintln!("moved the run in {} to {}", out.display(), to.display());
                }
            }
            let bar =
                sft_bar(if cfg.sft.enabled { cfg.sft.steps } else { 0 }).map_err(|e| (e, None))?;
            let t = Trainer::start(cfg, &out, |_, nll| {
                bar.inc(1);
                bar.set_message(format!("nll {nll:.3}"));
                !stop.load(Ordering::SeqCst)
            });
            bar.finish();
            let started = out.join("config.toml").exists();
            let t = t.map_err(|e| (e, started.then(|| out.clone())))?;
            if let Some(line) = last_line(&out, "warm_start") {
                eprintln!("warm start: {line}");
            }
            Ok((t, out))
        }
    }
}

fn last_line(out: &Path, phase: &str) -> Option<String> {
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).ok()?;
    text.lines()
        .rfind(|l| l.contains(&format!("\"phase\":\"{phase}\"")))
        .map(str::to_owned)
}
