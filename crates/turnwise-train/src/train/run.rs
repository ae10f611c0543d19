//! A training run (`turnwise train`): optional SFT warm start, then RL steps (one step is
//! [`super::step`]) with metrics, checkpoints, resume and a wall-clock budget.
//!
//! Run folder: `config.toml` (resolved), `metrics.jsonl` (one line per step, plus
//! `warm_start` / `final` evaluation lines), `warm_start/` and `reference/` (HF layout),
//! `checkpoints/step-NNNNNN/`, `rollouts/last.jsonl` (the last batch, turnwise format).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use serde_json::json;
use turnwise_core::jsonl;

use super::checkpoint::{self, TrainerState};
use super::eval::{evaluate, rollout_spec};
use crate::config::Config;
use crate::loss::epo::EntropyHistory;
use crate::optim::AdamW;
use crate::policy::Policy;

use super::fields::check_credit;
pub use super::fields::PROVIDED_FIELDS;
pub use super::step::StepMetrics;

/// A run in progress.
pub struct Trainer {
    /// The resolved configuration.
    pub cfg: Config,
    /// The run folder.
    pub out: PathBuf,
    /// The policy being trained.
    pub policy: Policy,
    /// The frozen reference (KL), when configured.
    pub reference: Option<Policy>,
    /// The optimiser.
    pub opt: AdamW,
    /// Step counters and histories.
    pub state: TrainerState,
    started: Instant,
}

pub(super) fn append_line(path: &Path, line: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{line}")?;
    Ok(())
}

impl Trainer {
    /// Starts a fresh run in `out`: tokenizer, policy, SFT warm start (when enabled).
    /// `on_sft` gets (SFT step, NLL) and returns false to abandon the start (Ctrl-C).
    pub fn start(
        cfg: Config,
        out: &Path,
        mut on_sft: impl FnMut(u64, f64) -> bool,
    ) -> Result<Trainer> {
        let started = Instant::now();
        check_credit(&cfg)?;
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        jsonl::write_atomic(&out.join("config.toml"), toml::to_string(&cfg)?.as_bytes())?;
        let metrics = out.join("metrics.jsonl");
        jsonl::write_atomic(&metrics, b"")?;
        let mut demos = if !cfg.sft.enabled {
            vec![]
        } else if cfg.sft.demos.is_empty() {
            super::envs::demo_groups(&cfg)?
        } else {
            jsonl::read_batch(Path::new(&cfg.sft.demos))?.groups
        };
        let policy = if cfg.model.path.is_empty() {
            let texts = super::envs::vocabulary_texts(&cfg, &demos)?;
            let tok = crate::policy::WordTokenizer::build(texts.iter().map(String::as_str));
            Policy::new(&cfg.model, tok, cfg.run.seed)?
        } else {
            let dir = Path::new(&cfg.model.path);
            let p = Policy::load(dir).with_context(|| format!("model.path {}", dir.display()))?;
            let limit = p.model.config.max_position_embeddings as i64;
            anyhow::ensure!(
                cfg.model.max_context <= limit,
                "model.max_context ({}) exceeds {}'s max_position_embeddings ({limit})",
                cfg.model.max_context,
                dir.display()
            );
            p
        };
        let history = rollout_spec(&cfg, &policy, None, 1, false).history;
        if cfg.sft.enabled {
            super::sft::tokenize(&mut demos, &policy.tokenizer)?;
            let t0 = Instant::now();
            let st = super::sft::train(&policy, &demos, &cfg, history, &mut on_sft)?;
            policy.save(&out.join("warm_start"))?;
            let ev = evaluate(&policy, &cfg, None, cfg.eval.episodes)?;
            append_line(&metrics, &json!({"phase": "warm_start", "sft_s": t0.elapsed().as_secs_f64(), "sft_rows": st.rows, "sft_final_nll": st.final_nll, "eval": ev, "elapsed_s": started.elapsed().as_secs_f64()}).to_string())?;
            refresh_report(out);
        }
        let reference = match cfg.loss.kl {
            Some(_) => {
                policy.save(&out.join("reference"))?;
                Some(Policy::load(&out.join("reference"))?)
            }
            None => None,
        };
        let o = &cfg.optim;
        let opt = AdamW::new(policy.parameters(), o.beta1, o.beta2, o.eps, o.weight_decay);
        let state = TrainerState {
            epo: cfg
                .loss
                .epo
                .as_ref()
                .map(|e| EntropyHistory::new(e.max_steps)),
            elapsed_s: started.elapsed().as_secs_f64(),
            ..Default::default()
        };
        Ok(Trainer {
            cfg,
            out: out.to_path_buf(),
            policy,
            reference,
            opt,
            state,
            started: Instant::now(),
        })
    }

    /// Resumes the run in `dir` from its latest checkpoint (configuration from
    /// `dir/config.toml`, with `sets` applied on top).
    pub fn resume(dir: &Path, sets: &[String]) -> Result<Trainer> {
        let cfg = crate::config::load(Some(&dir.join("config.toml")), sets)?;
        check_credit(&cfg)?;
        let last = checkpoint::list(dir)?
            .pop()
            .ok_or_else(|| anyhow!("{}: no checkpoint to resume from", dir.display()))?;
        let (policy, opt, state) = checkpoint::load(&last, &cfg.optim)?;
        let reference = match cfg.loss.kl {
            Some(_) => Some(Policy::load(&dir.join("reference"))?),
            None => None,
        };
        // Drop metric lines of steps after the checkpoint (they will be redone).
        let metrics = dir.join("metrics.jsonl");
        if let Ok(text) = std::fs::read_to_string(&metrics) {
            let kept: String = text
                .lines()
                .filter(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .ok()
                        .and_then(|v| v["step"].as_u64())
                        .is_none_or(|s| s <= state.step)
                })
                .map(|l| format!("{l}\n"))
                .collect();
            jsonl::write_atomic(&metrics, kept.as_bytes())?;
        }
        Ok(Trainer {
            cfg,
            out: dir.to_path_buf(),
            policy,
            reference,
            opt,
            state,
            started: Instant::now(),
        })
    }

    /// Wall-clock seconds of the job so far (resumed runs include earlier sessions).
    pub fn elapsed(&self) -> f64 {
        self.state.elapsed_s + self.started.elapsed().as_secs_f64()
    }

    /// Saves a checkpoint of the current step.
    pub fn save(&mut self) -> Result<PathBuf> {
        let mut st = self.state.clone();
        st.elapsed_s = self.elapsed();
        st.opt_step = self.opt.step;
        checkpoint::save(
            &self.out,
            &self.policy,
            &self.opt,
            &st,
            self.cfg.checkpoint.keep,
        )
    }

    /// Runs steps until `run.steps`, the time budget, `max_bad_steps` skipped updates in a
    /// row, or `stop` (Ctrl-C); checkpoints every `checkpoint.every` steps and at the end;
    /// evaluates at the end. Returns the final evaluation line.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        mut on_step: impl FnMut(&StepMetrics),
    ) -> Result<serde_json::Value> {
        let mut reason = "steps";
        while self.state.step < self.cfg.run.steps {
            if stop.load(Ordering::SeqCst) {
                reason = "interrupted";
                break;
            }
            if self.cfg.run.time_budget_s > 0.0 && self.elapsed() >= self.cfg.run.time_budget_s {
                reason = "time budget";
                break;
            }
            let m = self.step()?;
            on_step(&m);
            if self.state.bad_steps >= self.cfg.run.max_bad_steps {
                self.save()?;
                return Err(anyhow!(
                    "stopped after {} consecutive non-finite updates (run.max_bad_steps)",
                    self.state.bad_steps
                ));
            }
            let every = self.cfg.eval.every;
            let s = self.state.step;
            if every > 0 && s.is_multiple_of(every) && s < self.cfg.run.steps {
                let ev = evaluate(&self.policy, &self.cfg, None, self.cfg.eval.episodes)?;
                let line =
                    json!({"phase": "eval", "step": s, "eval": ev, "elapsed_s": self.elapsed()});
                append_line(&self.out.join("metrics.jsonl"), &line.to_string())?;
                refresh_report(&self.out);
            }
            let every = self.cfg.checkpoint.every;
            if every > 0 && s.is_multiple_of(every) {
                self.save()?;
            }
        }
        self.save()?;
        if reason == "interrupted" {
            return Ok(json!({"phase": "interrupted", "step": self.state.step}));
        }
        let ev = evaluate(&self.policy, &self.cfg, None, self.cfg.eval.episodes)?;
        let line = json!({"phase": "final", "stopped_by": reason, "step": self.state.step, "eval": ev, "elapsed_s": self.elapsed()});
        append_line(&self.out.join("metrics.jsonl"), &line.to_string())?;
        refresh_report(&self.out);
        Ok(line)
    }
}

/// Rewrites `RUN/report.html` (turnwise-report) after an evaluation; a failure is a
/// warning, never the end of the run.
fn refresh_report(out: &Path) {
    if let Err(e) = turnwise_report::refresh_run_report(out) {
        eprintln!(
            "warning: {}: report.html not refreshed: {e:#}",
            out.display()
        );
    }
}
