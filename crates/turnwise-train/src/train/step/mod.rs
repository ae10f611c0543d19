//! One RL step of a [`Trainer`], a pipeline over one row set:
//!
//! 1. **collect**: G episodes per task seed through the [`crate::rollout::Sampler`];
//!    the rows (one per turn with action tokens) are built once from the batch;
//! 2. **freeze**: π_old (and π_ref, for a KL) log-probs of the rows, no gradient;
//! 3. **annotate**: the configured annotators fill the fields the credit method reads
//!    ([`super::annotate`]; they may read π_old, e.g. DisCO's sequence scores);
//! 4. **credit**: reward shaping, then the estimator; its output becomes the rows'
//!    advantages according to its kind ([`credit`]);
//! 5. **update**: PPO-epoch updates of the policy (turn by turn, last turn first, for the
//!    reverse-sequential kind, [`sequential`]); critics learn from the step's credit;
//! 6. **record**: the step's rollouts with what credit gave each turn, and one
//!    `metrics.jsonl` line ([`record`]).
//!
//! Every stage has a timing bucket in the metrics; their sum is the step's time.

pub mod credit;
pub mod record;
pub mod sequential;

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use turnwise_core::seed;
use turnwise_core::Batch;
use turnwise_credit::OutputKind;

use super::annotate::Context;
use super::checkpoint::TrainerState;
use super::eval::rollout_spec;
use super::rows::RowSet;
use super::run::Trainer;
use super::update::{self, freeze, Frozen, UpdateStats};
use crate::config::{Config, Objective};
use crate::optim::{lr_at, AdamW};
use crate::policy::Policy;

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
    /// The critic's value loss before this step's critic updates (critic-based methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_loss: Option<f64>,
    /// `true` on a critic warm-up step (`critic.warmup_steps`): the policy was not updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critic_warmup: Option<bool>,
    /// Seconds in rollout (collect, rows).
    pub rollout_s: f64,
    /// Seconds scoring π_old / π_ref.
    pub freeze_s: f64,
    /// Seconds in the annotators.
    pub annotate_s: f64,
    /// Seconds in credit assignment (shaping, the estimator, advantages into rows).
    pub credit_s: f64,
    /// Seconds in the update (policy and critics).
    pub update_s: f64,
    /// Seconds writing rollouts and metrics.
    pub record_s: f64,
    /// Seconds of the whole step.
    pub step_s: f64,
    /// Generated tokens per second of generation.
    pub gen_tokens_per_s: f64,
    /// Environment steps per second of stepping.
    pub env_steps_per_s: f64,
    /// Seconds since the job started.
    pub elapsed_s: f64,
    /// Episodes the environment failed (recorded in `failed_episodes.jsonl`, not trained on).
    pub failed_episodes: usize,
    /// Seconds waited after a step whose every episode failed (the server down).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_wait_s: Option<f64>,
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
    /// PCL: predicted against observed pass rates of the tasks it chose
    /// (`pcl_predicted`, `pcl_observed`, `pcl_abs_error`, `pcl_distance`,
    /// `pcl_pool_distance`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub pcl: Option<crate::curricula::pcl::Calibration>,
    /// GAIN-RL: the sampling centre and angle concentrations (`gain_center`, `gain_angle`,
    /// `gain_pool_angle`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub gain: Option<crate::curricula::gain::GainReport>,
    /// RISE: the phase after this step's update (`rise_kept`, `rise_rows`, `rise_nll`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub rise: Option<crate::curricula::rise::RiseReport>,
    /// SLEA-RL: the experience library (`slea_admitted`, `slea_lessons`, `slea_clusters`,
    /// `slea_retrieved`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub slea: Option<crate::curricula::slea::SleaReport>,
}

/// Seconds since the last lap.
struct Clock(Instant);

impl Clock {
    fn lap(&mut self) -> f64 {
        let s = self.0.elapsed().as_secs_f64();
        self.0 = Instant::now();
        s
    }
}

impl Trainer {
    /// One RL step: collect → freeze → annotate → credit → update → record.
    pub fn step(&mut self) -> Result<StepMetrics> {
        let started = Instant::now();
        let mut clock = Clock(started);
        let cfg = &self.cfg;
        let s = self.state.step;
        let mut m = StepMetrics::default();

        // 1. collect (through the curricula: dynamic sampling, ExIt restarts)
        let stop = super::envs::STYLE.end_of_action(&*self.pipeline.probe);
        let spec = rollout_spec(cfg, &self.policy, stop, cfg.env.max_turns, false);
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
        // Episodes a remote environment failed: recorded, left out, capped per step.
        let failed = super::failures::take_failed(&mut batch);
        m.failed_episodes = failed.len();
        super::failures::record(&self.out, s + 1, &failed)?;
        if let Err(e) = super::failures::check(&failed, cfg.env.max_failed_episodes, s + 1) {
            self.save()?;
            return Err(e);
        }
        if batch.groups.is_empty() {
            // Every episode failed, within the limit: nothing to learn from, no update; wait
            // for the server before the next step.
            self.state.step += 1;
            m.step = self.state.step;
            m.lr = lr_at(&cfg.optim, cfg.optim.lr, s, cfg.run.steps);
            m.skipped = cfg.optim.ppo_epochs;
            m.rollout_s = clock.lap();
            self.down_steps += 1;
            let down = super::failures::check_down(self.down_steps, &failed, s + 1);
            if down.is_ok() {
                let wait = super::failures::backoff(self.down_steps);
                std::thread::sleep(wait);
                m.env_wait_s = Some(wait.as_secs_f64());
            }
            m.step_s = started.elapsed().as_secs_f64();
            m.elapsed_s = self.elapsed();
            record::metrics(&self.out, &m)?;
            if let Err(e) = down {
                self.save()?;
                return Err(e);
            }
            return Ok(m);
        }
        self.down_steps = 0;
        let mut rows = RowSet::from_batch(&batch, spec.history, cfg.loss.over_turn_mask);
        m.rollout_s = clock.lap();

        // 2. freeze π_old / π_ref
        let frozen = freeze(
            &rows,
            &self.policy,
            self.kl_reference(),
            cfg.optim.micro_batch,
        )?;
        m.freeze_s = clock.lap();

        // 3. annotate
        let probe = &*self.pipeline.probe;
        let format = super::annotate::formatter(probe);
        let cx = Context {
            cfg,
            policy: &self.policy,
            rows: &rows,
            frozen: &frozen,
            history: spec.history,
            format: &format,
        };
        self.pipeline.annotators.annotate(&mut batch, &cx)?;
        m.annotate_s = clock.lap();

        // 4. credit
        let reverse = self.pipeline.plan.estimator.kind == OutputKind::ReverseSequential;
        if reverse {
            sequential::reset(&mut batch);
        }
        let mut credited = credit::assign(cfg, &self.pipeline.plan, &batch, &frozen, &rows)?;
        credited.apply(cfg, &mut rows)?;
        m.credit_s = clock.lap();

        // 5. update (during the critic warm-up only the critic learns)
        let lr = lr_at(&cfg.optim, cfg.optim.lr, s, cfg.run.steps);
        let warmup = s < cfg.critic.warmup_steps;
        let ust = if warmup {
            UpdateStats::default()
        } else if reverse {
            let cx = sequential::Parts {
                policy: &self.policy,
                cfg,
                frozen: &frozen,
                spec: update::loss_spec(cfg, &[], s),
                lr,
            };
            sequential::update(&cx, &mut self.opt, &mut credited, &mut rows, &mut batch)?
        } else {
            let (policy, opt, state) = (&self.policy, &mut self.opt, &mut self.state);
            update_all(cfg, policy, opt, state, (&rows, &frozen, &batch), lr)?
        };
        let cx = Context {
            cfg: &self.cfg,
            policy: &self.policy,
            rows: &rows,
            frozen: &frozen,
            history: spec.history,
            format: &format,
        };
        let learned = self
            .pipeline
            .annotators
            .learn(&batch, &credited.output, &cx)?;
        m.value_loss = learned
            .iter()
            .find(|(k, _)| *k == "value_loss")
            .map(|(_, v)| *v);
        if cfg.curricula.rise && (s + 1).is_multiple_of(cfg.curricula.rise_every) {
            let groups = &batch.groups;
            m.rise = crate::curricula::rise::phase(&self.policy, groups, cfg, spec.history, s)?;
        }
        m.update_s = clock.lap();
        self.state.bad_steps = if ust.skipped == self.cfg.optim.ppo_epochs {
            self.state.bad_steps + 1
        } else {
            0
        };
        self.state.step += 1;

        // 6. record
        credited.annotate_turns(&mut batch, &rows);
        let played = super::eval::report(&self.cfg.env.name, &batch.groups, &rstats);
        record::rollouts(&self.out, &self.cfg, self.state.step, &batch)?;
        m.step = self.state.step;
        m.r#return = played.mean_return;
        m.success = played.success_rate;
        m.turns = played.mean_turns;
        m.tokens = rstats.tokens;
        m.entropy = ust.entropy;
        m.kl = ust.kl;
        m.clip_frac = ust.clip_frac;
        m.grad_norm = ust.grad_norm;
        m.lr = lr;
        m.loss = ust.loss;
        m.skipped = ust.skipped;
        m.gen_tokens_per_s = played.tokens_per_s;
        m.env_steps_per_s = played.env_steps_per_s;
        m.record_s = clock.lap();
        m.step_s = started.elapsed().as_secs_f64();
        m.elapsed_s = self.elapsed();
        m.critic_warmup = warmup.then_some(true);
        m.dropped_groups = cur.fill.map(|f| f.dropped);
        m.sample_rounds = cur.fill.map(|f| f.rounds);
        m.exit_restarts = cur.exit.map(|e| e.0);
        m.exit_buffer = cur.exit.map(|e| e.1);
        m.pcl = cur.pcl;
        m.gain = cur.gain;
        m.slea = cur.slea;
        record::metrics(&self.out, &m)?;
        Ok(m)
    }
}

/// PPO epochs over every row (EPO history, DisCO groups) with learning rate `lr`.
fn update_all(
    cfg: &Config,
    policy: &Policy,
    opt: &mut AdamW,
    state: &mut TrainerState,
    (rows, frozen, batch): (&RowSet, &Frozen, &Batch),
    lr: f64,
) -> Result<UpdateStats> {
    if let (Some(h), Some(e)) = (state.epo.as_mut(), cfg.loss.epo.as_ref()) {
        h.push(&per_step_entropy(rows, frozen, e.max_steps));
    }
    let history = state.epo.as_ref().map(|h| h.mean()).unwrap_or_default();
    let lspec = update::loss_spec(cfg, &history, state.step);
    let (dg, outcomes) = disco_groups(batch);
    let disco =
        (cfg.loss.objective == Objective::Disco).then_some((dg.as_slice(), outcomes.as_slice()));
    update::update(policy, opt, rows, frozen, cfg, &lspec, disco, lr)
}

/// Mean π_old token entropy per environment step over the live rows (EPO history entry of
/// one iteration).
fn per_step_entropy(rows: &RowSet, frozen: &Frozen, max_steps: usize) -> Vec<f64> {
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
            outcomes.push(if t.success == Some(true) { 1.0 } else { 0.0 });
        }
        groups.push(idx);
    }
    (groups, outcomes)
}
