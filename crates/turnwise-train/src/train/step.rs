//! One RL step of a [`Trainer`]: rollout, gold-answer scoring, π_old / π_ref, credit
//! assignment by the configured registered estimator, PPO-epoch updates, and the step's
//! record (`rollouts/last.jsonl`, one `metrics.jsonl` line).

use std::time::Instant;

use anyhow::{anyhow, Result};
use serde::Serialize;
use turnwise_core::seed;
use turnwise_core::{jsonl, Batch};
use turnwise_credit::output::Extra;
use turnwise_credit::registry;

use super::envs::make_envs;
use super::eval::rollout_spec;
use super::fields::needs_gold;
use super::rows::RowSet;
use super::run::{append_line, Trainer};
use super::update::{self, freeze};
use crate::config::{toml_to_json, Objective};
use crate::optim::lr_at;

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
    /// Dynamic sampling: groups dropped for equal outcomes this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_groups: Option<usize>,
    /// Dynamic sampling: sampling rounds this step (1: no refill).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rounds: Option<usize>,
    /// ExIt: groups restarted from the buffer this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_restarts: Option<usize>,
    /// ExIt: restart points in the buffer after the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_buffer: Option<usize>,
}

impl Trainer {
    /// One RL step: rollout, credit, update.
    pub fn step(&mut self) -> Result<StepMetrics> {
        let cfg = &self.cfg;
        let s = self.state.step;
        let t0 = Instant::now();
        let probe = make_envs(cfg, 1, &[])?.remove(0);
        let stop = super::envs::STYLE.end_of_action(&*probe);
        let spec = rollout_spec(cfg, &self.policy, Some(stop), cfg.env.max_turns, false);
        let mut rng = seed::rng(cfg.run.seed, 0x1000_0000 + s);
        let (groups, rstats, cur) = crate::curricula::collect::collect_step(
            cfg,
            &self.policy,
            s,
            &spec,
            &mut rng,
            &mut self.curricula,
        )?;
        let mut batch = Batch { groups };
        let rollout_s = t0.elapsed().as_secs_f64();
        if needs_gold(&cfg.credit.method) {
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
            dropped_groups: cur.fill.map(|f| f.dropped),
            sample_rounds: cur.fill.map(|f| f.rounds),
            exit_restarts: cur.exit.map(|e| e.0),
            exit_buffer: cur.exit.map(|e| e.1),
        };
        append_line(&self.out.join("metrics.jsonl"), &serde_json::to_string(&m)?)?;
        Ok(m)
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
            let ok = t.success == Some(true);
            outcomes.push(if ok { 1.0 } else { 0.0 });
        }
        groups.push(idx);
    }
    (groups, outcomes)
}
