//! A training run (`turnwise train`): the lifecycle around the RL steps ([`super::step`]):
//! start (run folder and lock, tokenizer and policy, checks, SFT warm start, the step-0
//! checkpoint), checkpoints, the run loop with its stops (steps, wall-clock budget,
//! non-finite steps, Ctrl-C / SIGTERM) and the final evaluation. Resuming is
//! [`super::resume`].
//!
//! Run folder: `config.toml` (resolved), `metrics.jsonl` (one line per step, plus
//! `warm_start` / `resume` / `interrupted` / `final` lines), `warm_start/` and `reference/`
//! (HF layout), `checkpoints/step-NNNNNN/`, `rollouts/last.jsonl` (the last batch, turnwise
//! format), `.lock`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use serde_json::json;
use turnwise_core::jsonl;

use super::checkpoint::parts::{OptimizerPart, PolicyPart};
use super::checkpoint::{self, Part, TrainerState};
use super::eval::{evaluate, rollout_spec};
pub(super) use super::metrics::append_line;
use super::metrics::METRICS_FILE;
use super::preflight;
use super::run_dir::RunDir;
use super::update::Reference;
use crate::config::Config;
use crate::loss::epo::EntropyHistory;
use crate::optim::AdamW;
use crate::policy::{Placement, Policy};

use super::annotate::check_credit;
pub use super::annotate::ROLLOUT_FIELDS as PROVIDED_FIELDS;
use super::pipeline::{Pipeline, PipelinePart};
pub use super::step::StepMetrics;

/// A run in progress. The trainer holds the run folder's lock until it is dropped.
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
    /// What the curricula keep between steps (ExIt's buffer).
    pub curricula: crate::curricula::collect::CurriculaState,
    /// The step pipeline's state: credit plan and annotators (critics).
    pub pipeline: Pipeline,
    pub(super) started: Instant,
    pub(super) dir: RunDir,
    /// Consecutive steps whose every episode failed (remote environments down).
    pub(super) down_steps: u32,
}

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `run.steps` reached.
    Steps,
    /// `run.time_budget_s` spent.
    TimeBudget,
    /// Ctrl-C or SIGTERM: the run is incomplete (resume it).
    Interrupted,
}

impl StopReason {
    /// The name written to `metrics.jsonl`.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Steps => "steps",
            StopReason::TimeBudget => "time budget",
            StopReason::Interrupted => "interrupted",
        }
    }
}

/// How [`Trainer::run`] ended.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// Why it stopped.
    pub stopped_by: StopReason,
    /// The last line written to `metrics.jsonl` (`final` with the evaluation, or
    /// `interrupted`).
    pub line: serde_json::Value,
    /// The checkpoint in place at the end.
    pub checkpoint: PathBuf,
}

/// Writes the folder `dest` through a temporary sibling (`.tmp-NAME-PID`) that `fill`
/// writes and that is then renamed into place, so `dest` is whole or absent. A `dest` left
/// by an earlier attempt is replaced.
pub(super) fn replace_dir_atomic(
    dest: &Path,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dest.with_file_name(format!(".tmp-{name}-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    fill(&tmp)?;
    if dest.exists() {
        std::fs::remove_dir_all(dest)?;
    }
    Ok(std::fs::rename(&tmp, dest)?)
}

/// Saves `policy` to `dest` atomically ([`replace_dir_atomic`]; a `dest` left by an
/// earlier attempt of this start, which reached no checkpoint, is replaced).
fn save_policy_atomic(policy: &Policy, dest: &Path) -> Result<()> {
    replace_dir_atomic(dest, |tmp| policy.save(tmp))
        .with_context(|| format!("saving {}", dest.display()))
}

impl Trainer {
    /// The KL reference: the saved copy of the starting weights, or the base model under
    /// LoRA (`model.lora`: adapters off); None without `loss.kl`.
    pub fn kl_reference(&self) -> Option<Reference<'_>> {
        self.cfg.loss.kl.as_ref()?;
        match &self.reference {
            Some(p) => Some(Reference::Copy(p)),
            None if self.policy.model.has_lora() => Some(Reference::AdaptersOff),
            None => None,
        }
    }

    /// Starts a fresh run in `out`: refuses a folder that already holds a run (resume it,
    /// or move it aside with [`super::run_dir::move_aside`]) and takes its lock, then
    /// builds the tokenizer and policy, checks the context and memory, runs the SFT warm
    /// start (when enabled) and saves the start of RL as checkpoint `step-000000`.
    /// `on_sft` gets (SFT step, NLL) and returns false to abandon the start (Ctrl-C).
    pub fn start(cfg: Config, out: &Path, on_sft: impl FnMut(u64, f64) -> bool) -> Result<Trainer> {
        let existed = out.exists();
        let dir = RunDir::create(out)?;
        let t = Trainer::start_in(cfg, dir, on_sft);
        if t.is_err() && !existed && !out.join("config.toml").exists() {
            // Refused before the run existed (context, memory): leave no folder behind.
            let _ = std::fs::remove_file(out.join(super::run_dir::LOCK_FILE));
            let _ = std::fs::remove_dir(out);
        }
        t
    }

    /// [`Trainer::start`] in a folder already locked (a resume with no checkpoint yet
    /// starts over here).
    pub(super) fn start_in(
        mut cfg: Config,
        dir: RunDir,
        mut on_sft: impl FnMut(u64, f64) -> bool,
    ) -> Result<Trainer> {
        let started = Instant::now();
        check_credit(&cfg)?;
        super::apply_threads(cfg.run.threads);
        let out = dir.path().to_path_buf();
        cfg.run.out = out.display().to_string();
        // A warm start shared through `sft.cache` (held under its key's lock until stored).
        let slot = super::warm_cache::Slot::open(&cfg)?;
        let cached = match &slot {
            Some(s) => s.stored()?,
            None => None,
        };
        let mut demos = if !cfg.sft.enabled || cached.is_some() {
            vec![]
        } else if cfg.sft.demos.is_empty() {
            super::envs::demo_groups(&cfg)?
        } else {
            jsonl::read_batch(Path::new(&cfg.sft.demos))?.groups
        };
        let place = Placement::of(&cfg)?;
        let policy = if let Some(c) = &cached {
            Policy::load_on(&c.policy_dir, place)
                .with_context(|| format!("sft.cache {}", c.policy_dir.display()))?
        } else if cfg.model.path.is_empty() {
            let texts = super::envs::vocabulary_texts(&cfg, &demos)?;
            let tok = crate::policy::WordTokenizer::build_with(
                texts.iter().map(String::as_str),
                cfg.model.pieces()?,
            );
            Policy::new_on(&cfg.model, tok, cfg.run.seed, place)?
        } else {
            let dir = Path::new(&cfg.model.path);
            let mut p = Policy::load_on(dir, place)
                .with_context(|| format!("model.path {}", dir.display()))?;
            if let Some(l) = &cfg.model.lora {
                p.model.add_lora(&l.model(cfg.run.seed))?;
            }
            p
        };
        preflight::check_context(&cfg, &policy)?;
        if let Some(w) = preflight::check_memory(&cfg, &policy)? {
            eprintln!("{w}");
        }
        // From here the folder is a run: a kill during the warm start is resumed by
        // starting over from this configuration.
        jsonl::write_atomic(&out.join("config.toml"), toml::to_string(&cfg)?.as_bytes())?;
        let metrics = out.join(METRICS_FILE);
        jsonl::write_atomic(&metrics, b"")?;
        let history = rollout_spec(&cfg, &policy, None, 1, false).history;
        if let Some(c) = cached {
            save_policy_atomic(&policy, &out.join("warm_start"))?;
            let mut line = c.line;
            line["elapsed_s"] = json!(started.elapsed().as_secs_f64());
            line["sft_cache"] = json!(c.policy_dir.display().to_string());
            append_line(&metrics, &line.to_string())?;
            refresh_report(&out);
        } else if cfg.sft.enabled {
            super::sft::tokenize(&mut demos, &policy.tokenizer)?;
            let t0 = Instant::now();
            let st = super::sft::train(&policy, &demos, &cfg, history, &mut on_sft)?;
            checkpoint::check_finite(&policy, &out.join("warm_start"))
                .context("the SFT warm start diverged (lower sft.lr)")?;
            save_policy_atomic(&policy, &out.join("warm_start"))?;
            let ev = evaluate(&policy, &cfg, None, cfg.eval.episodes)?;
            let line = json!({"phase": "warm_start", "sft_s": t0.elapsed().as_secs_f64(), "sft_rows": st.rows, "sft_final_nll": st.final_nll, "eval": ev, "elapsed_s": started.elapsed().as_secs_f64()});
            append_line(&metrics, &line.to_string())?;
            if let Some(s) = &slot {
                s.store(&policy, &line)?;
            }
            refresh_report(&out);
        }
        drop(slot);
        let reference = match cfg.loss.kl {
            // Under LoRA the reference is the base model, adapters off (no copy).
            Some(_) if cfg.model.lora.is_none() => {
                save_policy_atomic(&policy, &out.join("reference"))?;
                Some(Policy::load_on(&out.join("reference"), place)?)
            }
            _ => None,
        };
        let o = &cfg.optim;
        let opt = AdamW::new(policy.parameters(), o.beta1, o.beta2, o.eps, o.weight_decay);
        let pipeline = Pipeline::new(&cfg, &policy)?;
        let state = TrainerState {
            epo: cfg
                .loss
                .epo
                .as_ref()
                .map(|e| EntropyHistory::new(e.max_steps)),
            elapsed_s: started.elapsed().as_secs_f64(),
            ..Default::default()
        };
        let mut t = Trainer {
            curricula: crate::curricula::collect::CurriculaState::new(&cfg),
            cfg,
            out,
            policy,
            reference,
            opt,
            state,
            pipeline,
            started: Instant::now(),
            dir,
            down_steps: 0,
        };
        // The start of RL is a checkpoint: a kill from here on resumes without redoing SFT.
        t.save()?;
        Ok(t)
    }

    /// Wall-clock seconds of the job so far (resumed runs include earlier sessions).
    pub fn elapsed(&self) -> f64 {
        self.state.elapsed_s + self.started.elapsed().as_secs_f64()
    }

    /// The run folder (locked by this trainer).
    pub fn run_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Saves the checkpoint of the current step (policy, optimiser moments, trainer
    /// state), unless an intact one of this step is already in place; prunes older ones.
    pub fn save(&mut self) -> Result<PathBuf> {
        let mut st = self.state.clone();
        st.elapsed_s = self.elapsed();
        st.opt_step = self.opt.step;
        let pipeline = PipelinePart(&self.pipeline);
        let parts: [&dyn Part; 4] = [
            &PolicyPart(&self.policy),
            &OptimizerPart(&self.opt),
            &st,
            &pipeline,
        ];
        checkpoint::save(&self.out, st.step, &parts, self.cfg.checkpoint.keep)
    }

    /// Runs steps until `run.steps`, the time budget, `max_bad_steps` skipped steps in a
    /// row (an error), or `stop` (Ctrl-C, SIGTERM: the step in flight finishes first);
    /// checkpoints every `checkpoint.every` steps and at the end; evaluates at the end
    /// unless interrupted.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        mut on_step: impl FnMut(&StepMetrics),
    ) -> Result<RunEnd> {
        let mut stopped_by = StopReason::Steps;
        while self.state.step < self.cfg.run.steps {
            if stop.load(Ordering::SeqCst) {
                stopped_by = StopReason::Interrupted;
                break;
            }
            if self.cfg.run.time_budget_s > 0.0 && self.elapsed() >= self.cfg.run.time_budget_s {
                stopped_by = StopReason::TimeBudget;
                break;
            }
            let m = self.step()?;
            on_step(&m);
            if self.state.bad_steps >= self.cfg.run.max_bad_steps {
                let ck = self.save()?;
                return Err(anyhow!(
                    "stopped after {} consecutive steps with a non-finite loss, gradient or \
                     update (run.max_bad_steps); each was skipped, {} holds the last finite \
                     weights",
                    self.state.bad_steps,
                    ck.display()
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
        let checkpoint = self.save()?;
        let metrics = self.out.join(METRICS_FILE);
        let line = if stopped_by == StopReason::Interrupted {
            json!({"phase": "interrupted", "step": self.state.step, "elapsed_s": self.elapsed()})
        } else {
            let ev = evaluate(&self.policy, &self.cfg, None, self.cfg.eval.episodes)?;
            json!({"phase": "final", "stopped_by": stopped_by.name(), "step": self.state.step, "eval": ev, "elapsed_s": self.elapsed()})
        };
        append_line(&metrics, &line.to_string())?;
        if stopped_by != StopReason::Interrupted {
            refresh_report(&self.out);
        }
        Ok(RunEnd {
            stopped_by,
            line,
            checkpoint,
        })
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
