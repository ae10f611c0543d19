//! Resuming a run (`turnwise train --resume DIR`): take the folder's lock, read the run's
//! configuration and the resume's (`--config`, `--set`), refuse keys that cannot change
//! ([`crate::config::resume`]), move damaged checkpoints aside, load the newest intact one
//! and record the changed keys in `config.toml` and `metrics.jsonl`. A run killed before
//! its first checkpoint (during the SFT warm start) starts over from its configuration.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::json;
use turnwise_core::jsonl;

use super::annotate::check_credit;
use super::checkpoint;
use super::metrics::{append_line, truncate_after, METRICS_FILE};
use super::pipeline::Pipeline;
use super::preflight;
use super::run::Trainer;
use super::run_dir::RunDir;
use crate::config::{self, resume::Change, Config};
use crate::policy::Policy;

/// What a resume is given besides the run folder.
#[derive(Debug, Clone, Default)]
pub struct ResumeOptions {
    /// A configuration file to continue with instead of the run's `config.toml` (its keys
    /// are checked like `--set`).
    pub config: Option<PathBuf>,
    /// `KEY=VALUE` overrides.
    pub sets: Vec<String>,
}

/// A resumed run and what the resume did.
pub struct Resumed {
    /// The trainer, holding the folder's lock.
    pub trainer: Trainer,
    /// The checkpoint loaded (None: there was none yet, the run started over).
    pub from: Option<PathBuf>,
    /// Keys changed from the run's configuration (applied and recorded).
    pub changes: Vec<Change>,
    /// Warnings to show (damaged checkpoints moved aside, memory).
    pub warnings: Vec<String>,
}

/// The configuration a resume continues with: `opts` over the run's, with `run.out` the
/// folder itself; Err names refused keys.
pub fn resolved_config(dir: &Path, opts: &ResumeOptions) -> Result<(Config, Vec<Change>)> {
    let own = dir.join("config.toml");
    let old = config::load(Some(&own), &[])?;
    let mut new = config::load(Some(opts.config.as_deref().unwrap_or(&own)), &opts.sets)?;
    new.run.out = old.run.out.clone();
    let changes = config::resume::diff(&old, &new).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}\n(start a new run with these settings instead: `turnwise train --out NEW_FOLDER`)",
            dir.display()
        )
    })?;
    Ok((new, changes))
}

impl Trainer {
    /// Resumes the run in `dir` from its newest intact checkpoint with `sets` applied
    /// (see [`Trainer::resume_with`]).
    pub fn resume(dir: &Path, sets: &[String]) -> Result<Trainer> {
        let opts = ResumeOptions {
            config: None,
            sets: sets.to_vec(),
        };
        Ok(Trainer::resume_with(dir, &opts, |_, _| true)?.trainer)
    }

    /// Resumes the run in `dir`: locks it, checks the configuration change, loads the
    /// newest intact checkpoint (damaged newer ones are moved to `damaged-step-*`), drops
    /// metric lines after it, and records the changed keys. Without any checkpoint (killed
    /// during the warm start) the run starts over; `on_sft` is then the SFT callback.
    pub fn resume_with(
        dir: &Path,
        opts: &ResumeOptions,
        on_sft: impl FnMut(u64, f64) -> bool,
    ) -> Result<Resumed> {
        let lock = RunDir::open(dir)?;
        let (cfg, changes) = resolved_config(dir, opts)?;
        check_credit(&cfg)?;
        let scan = checkpoint::scan(dir)?;
        let mut warnings = scan.warnings();
        for (d, _) in &scan.damaged {
            let to = checkpoint::quarantine(d)?;
            warnings.push(format!("moved {} to {}", d.display(), to.display()));
        }
        let Some((ck, _)) = scan.intact else {
            warnings.push(format!(
                "{}: no checkpoint yet (stopped during the warm start); starting the run over",
                dir.display()
            ));
            let trainer = Trainer::start_in(cfg, lock, on_sft)?;
            return Ok(Resumed {
                trainer,
                from: None,
                changes,
                warnings,
            });
        };
        super::apply_threads(cfg.run.threads);
        let (policy, opt, state) = checkpoint::load(&ck, &cfg)?;
        let mut pipeline = Pipeline::new(&cfg, &policy)?;
        pipeline.load(&ck)?;
        preflight::check_context(&cfg, &policy)?;
        if let Some(w) = preflight::check_memory(&cfg, &policy)? {
            warnings.push(w);
        }
        let reference = match cfg.loss.kl {
            Some(_) if cfg.model.lora.is_none() => {
                let r = dir.join("reference");
                Some(
                    Policy::load_on(&r, crate::policy::Placement::of(&cfg)?)
                        .with_context(|| format!("the KL reference {}", r.display()))?,
                )
            }
            _ => None,
        };
        let metrics = dir.join(METRICS_FILE);
        truncate_after(&metrics, state.step)?;
        if !changes.is_empty() {
            jsonl::write_atomic(&dir.join("config.toml"), toml::to_string(&cfg)?.as_bytes())?;
        }
        let changed: serde_json::Map<String, serde_json::Value> = changes
            .iter()
            .map(|c| (c.key.clone(), json!([c.old, c.new])))
            .collect();
        let step = state.step;
        let trainer = Trainer {
            curricula: crate::curricula::collect::CurriculaState::new(&cfg),
            cfg,
            out: dir.to_path_buf(),
            policy,
            reference,
            opt,
            state,
            pipeline,
            started: Instant::now(),
            dir: lock,
            down_steps: 0,
        };
        append_line(
            &metrics,
            &json!({"phase": "resume", "step": step, "from": ck, "changed": changed, "elapsed_s": trainer.elapsed()})
                .to_string(),
        )?;
        Ok(Resumed {
            trainer,
            from: Some(ck),
            changes,
            warnings,
        })
    }
}
