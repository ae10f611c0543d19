//! A training run (`turnwise train`): optional SFT warm start, then RL steps — rollout
//! (G episodes per task seed), credit assignment by the configured registered estimator,
//! PPO-epoch updates — with metrics, checkpoints, resume and a wall-clock budget.
//!
//! Run folder: `config.toml` (resolved), `metrics.jsonl` (one line per step, plus
//! `warm_start` / `final` evaluation lines), `warm_start/` and `reference/` (HF layout),
//! `checkpoints/step-NNNNNN/`, `rollouts/last.jsonl` (the last batch, turnwise format).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use serde_json::json;
use turnwise_core::seed::{self, Split};
use turnwise_core::{jsonl, Batch};
use turnwise_credit::output::Extra;
use turnwise_credit::registry;

use super::checkpoint::{self, TrainerState};
use super::envs::make_envs;
use super::eval::{evaluate, rollout_spec};
use super::rows::RowSet;
use super::update::{self, freeze};
use crate::config::{toml_to_json, Config, Objective};
use crate::loss::epo::EntropyHistory;
use crate::optim::{lr_at, AdamW};
use crate::policy::Policy;

pub use super::fields::PROVIDED_FIELDS;
use super::fields::{check_credit, needs_gold};

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepMetrics {
    /// RL step (1-based).
    pub step: u64,
    /// Mean episode return.
    pub r#return: f64,
    /// Fraction of successful episodes.
    pub success: f64,
    /// Mean turns per episode.
    pub turns: f64,
    /// Action tokens generated.
    pub tokens: usize,
    /// Aggregated policy entropy.
    pub entropy: f64,
    /// Aggregated KL to the reference (DisCO: to π_old).
    pub kl: f64,
    /// Fraction of tokens where the clip was active.
    pub clip_frac: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Learning rate.
    pub lr: f64,
    /// Mean loss.
    pub loss: f64,
    /// Skipped (non-finite) updates this step.
    pub skipped: usize,
    /// Seconds in rollout.
    pub rollout_s: f64,
    /// Seconds in credit assignment.
    pub credit_s: f64,
    /// Seconds in the update.
    pub update_s: f64,
    /// Generated tokens per second of generation.
    pub gen_tokens_per_s: f64,
    /// Environment steps per second of stepping.
    pub env_steps_per_s: f64,
    /// Seconds since the job started.
    pub elapsed_s: f64,
}

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

fn append_line(path: &Path, line: &str) -> Result<()> {
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

    /// One RL step: rollout, credit, update.
    pub fn step(&mut self) -> Result<StepMetrics> {
        let cfg = &self.cfg;
        let s = self.state.step;
        let g = cfg.env.group_size;
        let n_tasks = cfg.env.tasks_per_step;
        let seeds: Vec<u64> = (0..n_tasks as u64)
            .map(|i| seed::task_seed(cfg.run.seed, Split::Train, s * n_tasks as u64 + i))
            .collect();
        let t0 = Instant::now();
        let envs = make_envs(cfg, g * n_tasks, &[])?;
        let stop = super::envs::STYLE.end_of_action(&*envs[0]);
        let spec = rollout_spec(cfg, &self.policy, Some(stop), cfg.env.max_turns, false);
        let mut rng = seed::rng(cfg.run.seed, 0x1000_0000 + s);
        let (groups, rstats) =
            crate::rollout::collect(&self.policy, envs, &seeds, &cfg.env.name, &spec, &mut rng)?;
        let mut batch = Batch { groups };
        let rollout_s = t0.elapsed().as_secs_f64();
        if needs_gold(&cfg.credit.method) {
            let probe = make_envs(cfg, 1, &[])?.remove(0);
            let format = |g: &str| super::envs::STYLE.format_action(&*probe, g);
            super::gold::annotate(
                &mut batch,
                &self.policy,
                spec.history,
                format,
                cfg.optim.micro_batch,
            )?;
        }

        let t1 = Instant::now();
        let zeros = turnwise_credit::TurnValues::zeros(&batch);
        let pre_rows = RowSet::from_batch(&batch, &zeros, None, spec.history, false);
        let frozen0 = freeze(
            &pre_rows,
            &self.policy,
            self.reference.as_ref(),
            cfg.optim.micro_batch,
        )?;
        if cfg.loss.kl_in_reward {
            apply_kl_reward(&mut batch, &pre_rows, &frozen0, cfg.loss.kl_coef);
        }
        let out = registry::run(
            &cfg.credit.method,
            &batch,
            &toml_to_json(&cfg.credit.params),
            &[],
        )
        .map_err(|e| anyhow!("credit: {e}"))?;
        let adv = out.turn_values().ok_or_else(|| {
            anyhow!(
                "credit.method {:?} does not return one value per turn",
                cfg.credit.method
            )
        })?;
        let clip_eps = match out.extra("clip_eps") {
            Some(Extra::PerTurn(v)) => Some(v),
            _ => None,
        };
        let rows = RowSet::from_batch(&batch, adv, clip_eps, spec.history, cfg.loss.over_turn_mask);
        let credit_s = t1.elapsed().as_secs_f64();

        let t2 = Instant::now();
        // π_old depends on the sequences only (the same for `pre_rows` and `rows`); the
        // over-turn mask is applied per row in the loss.
        let frozen = frozen0;
        if let (Some(h), Some(e)) = (self.state.epo.as_mut(), cfg.loss.epo.as_ref()) {
            h.push(&per_step_entropy(&rows, &frozen, e.max_steps));
        }
        let history = self
            .state
            .epo
            .as_ref()
            .map(|h| h.mean())
            .unwrap_or_default();
        let lspec = update::loss_spec(cfg, &history, s);
        let (dg, outcomes) = disco_groups(&batch);
        let disco = (cfg.loss.objective == Objective::Disco)
            .then_some((dg.as_slice(), outcomes.as_slice()));
        let lr = lr_at(&cfg.optim, cfg.optim.lr, s, cfg.run.steps);
        let ust = update::update(
            &self.policy,
            &mut self.opt,
            &rows,
            &frozen,
            cfg,
            &lspec,
            disco,
            lr,
        )?;
        let update_s = t2.elapsed().as_secs_f64();
        self.state.bad_steps = if ust.skipped == cfg.optim.ppo_epochs {
            self.state.bad_steps + 1
        } else {
            0
        };
        self.state.step += 1;
        let last = self.out.join("rollouts");
        std::fs::create_dir_all(&last)?;
        let mut w = jsonl::AtomicWriter::create(&last.join("last.jsonl"))?;
        for gr in &batch.groups {
            w.write_group(gr)?;
        }
        w.commit()?;

        let played = super::eval::report(&cfg.env.name, &batch.groups, &rstats);
        let m = StepMetrics {
            step: self.state.step,
            r#return: played.mean_return,
            success: played.success_rate,
            turns: played.mean_turns,
            tokens: rstats.tokens,
            entropy: ust.entropy,
            kl: ust.kl,
            clip_frac: ust.clip_frac,
            grad_norm: ust.grad_norm,
            lr,
            loss: ust.loss,
            skipped: ust.skipped,
            rollout_s,
            credit_s,
            update_s,
            gen_tokens_per_s: played.tokens_per_s,
            env_steps_per_s: played.env_steps_per_s,
            elapsed_s: self.elapsed(),
        };
        append_line(&self.out.join("metrics.jsonl"), &serde_json::to_string(&m)?)?;
        Ok(m)
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
            let every = self.cfg.checkpoint.every;
            if every > 0 && self.state.step.is_multiple_of(every) {
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
        Ok(line)
    }
}

/// r_t −= β·Σ_k (log π_old − log π_ref) over the turn's tokens (§12.3 "as a reward
/// penalty"); the outcome is recomputed as the return.
fn apply_kl_reward(batch: &mut Batch, rows: &RowSet, frozen: &update::Frozen, beta: f64) {
    let Some(refs) = &frozen.logp_ref else { return };
    let kl_u = frozen.row_sums(|c| (&frozen.logp_old[c] - &refs[c]) * &frozen.mask[c]);
    let mut i = 0;
    for t in batch
        .groups
        .iter_mut()
        .flat_map(|g| g.trajectories.iter_mut())
    {
        for u in t
            .turns
            .iter_mut()
            .filter(|u| !u.action.token_ids.is_empty())
        {
            u.reward = Some(u.reward.unwrap_or(0.0) - beta * kl_u[rows.inverse[i]]);
            i += 1;
        }
        t.outcome = Some(t.total_reward());
    }
}

/// Mean π_old token entropy per environment step over the live rows (EPO history entry of
/// one iteration).
fn per_step_entropy(rows: &RowSet, frozen: &update::Frozen, max_steps: usize) -> Vec<f64> {
    let es = frozen.row_sums(|c| &frozen.entropy_old[c] * &frozen.mask[c]);
    let ms = frozen.row_sums(|c| frozen.mask[c].shallow_clone());
    let mut sum = vec![0.0; max_steps];
    let mut cnt = vec![0.0; max_steps];
    for (r, &u) in rows.inverse.iter().enumerate() {
        let st = rows.env_step[r];
        if rows.live[r] && st < max_steps {
            sum[st] += es[u];
            cnt[st] += ms[u];
        }
    }
    let last = cnt.iter().rposition(|&c| c > 0.0).map_or(0, |p| p + 1);
    (0..last)
        .map(|k| if cnt[k] > 0.0 { sum[k] / cnt[k] } else { 0.0 })
        .collect()
}

/// Trajectory indices per group and outcomes for DisCO (success = 1, failure = 0).
fn disco_groups(batch: &Batch) -> (Vec<Vec<usize>>, Vec<f64>) {
    let mut groups = Vec::new();
    let mut outcomes = Vec::new();
    for g in &batch.groups {
        let mut idx = Vec::new();
        for t in &g.trajectories {
            idx.push(outcomes.len());
            let ok = t
                .metadata
                .get("success")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            outcomes.push(if ok { 1.0 } else { 0.0 });
        }
        groups.push(idx);
    }
    (groups, outcomes)
}
