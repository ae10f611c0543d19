//! `[curricula]`: what the trainer samples and remembers (issue 16; `docs/training.md`
//! "Curricula and experience"). Every option is off by default.

use serde::{Deserialize, Serialize};

use super::validate::{Checks, Real};
use super::Config;

/// `[curricula]`: task sampling options of the RL step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CurriculaConfig {
    /// DAPO dynamic sampling: drop groups whose outcomes are all equal and sample more
    /// tasks until `env.tasks_per_step` groups carry signal.
    pub dynamic_sampling: bool,
    /// Sampling rounds per step with dynamic sampling (the first included; ≥ 1).
    pub max_sample_rounds: usize,
    /// ExIt: restart episodes from intermediate states of earlier ones, prioritised by
    /// the learning signal of the group they came from.
    pub exit: bool,
    /// ExIt: probability that a task slot restarts from the buffer (when it has points).
    pub exit_prob: f64,
    /// ExIt: restart points kept (the lowest priority is replaced first).
    pub exit_buffer: usize,
    /// Prompt Curriculum Learning: play the candidate tasks whose predicted pass rate is
    /// nearest `pcl_target`.
    pub pcl: bool,
    /// PCL: candidate tasks per task slot (pool = `pcl_pool × env.tasks_per_step`; ≥ 1).
    pub pcl_pool: usize,
    /// PCL: the pass rate τ the chosen tasks' predictions should be nearest ([0, 1]).
    pub pcl_target: f64,
    /// GAIN-RL: sample the step's tasks around a centre moving through the candidates
    /// sorted by the policy's angle concentration.
    pub gain_rl: bool,
    /// GAIN-RL: candidate tasks per task slot (≥ 1).
    pub gain_pool: usize,
    /// GAIN-RL: σ of the Gaussian over the pool's order and the largest shift of its
    /// centre per step, as fractions of the pool ((0, 1]).
    pub gain_sigma: f64,
    /// RISE: after the RL update of every `rise_every`-th step, reward-weighted regression
    /// on the step's best self-correcting sequences.
    pub rise: bool,
    /// RISE: steps between phases (≥ 1).
    pub rise_every: u64,
    /// RISE: optimiser steps per phase (≥ 1).
    pub rise_steps: u64,
    /// RISE: τ of the weights exp(r/τ) (> 0).
    pub rise_tau: f64,
    /// SLEA-RL: retrieve lessons of the observation's structural cluster into the context.
    pub slea: bool,
    /// SLEA-RL: strategies and failure patterns kept per cluster (each; ≥ 1).
    pub slea_keep: usize,
    /// SLEA-RL: lessons admitted per RL step at most (≥ 1).
    pub slea_rate: usize,
}

impl Default for CurriculaConfig {
    fn default() -> Self {
        CurriculaConfig {
            dynamic_sampling: false,
            max_sample_rounds: 4,
            exit: false,
            exit_prob: 0.5,
            exit_buffer: 256,
            pcl: false,
            pcl_pool: 4,
            pcl_target: 0.5,
            gain_rl: false,
            gain_pool: 4,
            gain_sigma: 0.133,
            rise: false,
            rise_every: 1,
            rise_steps: 4,
            rise_tau: 0.1,
            slea: false,
            slea_keep: 2,
            slea_rate: 8,
        }
    }
}

/// Range checks of `[curricula]` and of the temporally-aware objective's `[loss.ta_lpo]`.
pub(super) fn validate(c: &Config, k: &mut Checks) {
    let cu = &c.curricula;
    k.int(
        "curricula.max_sample_rounds",
        cu.max_sample_rounds as i128,
        1,
        1024,
    );
    k.real("curricula.exit_prob", cu.exit_prob, Real::PROBABILITY);
    k.int("curricula.exit_buffer", cu.exit_buffer as i128, 1, 1 << 20);
    k.int("curricula.pcl_pool", cu.pcl_pool as i128, 1, 1024);
    k.real("curricula.pcl_target", cu.pcl_target, Real::PROBABILITY);
    k.int("curricula.gain_pool", cu.gain_pool as i128, 1, 1024);
    k.real("curricula.gain_sigma", cu.gain_sigma, Real::PROBABILITY);
    k.require(
        "curricula.gain_sigma",
        cu.gain_sigma > 0.0,
        "must be > 0 (a fraction of the candidate pool)",
    );
    k.int("curricula.rise_every", cu.rise_every as i128, 1, 1 << 20);
    k.int("curricula.rise_steps", cu.rise_steps as i128, 1, 1 << 20);
    k.real("curricula.rise_tau", cu.rise_tau, Real::POSITIVE);
    k.int("curricula.slea_keep", cu.slea_keep as i128, 1, 64);
    k.int("curricula.slea_rate", cu.slea_rate as i128, 1, 1 << 20);
    k.require(
        "curricula.gain_rl",
        !(cu.gain_rl && cu.pcl),
        "GAIN-RL and PCL both choose the step's tasks: switch one of them off",
    );
    let d = &c.loss.ta_lpo;
    for (key, v) in [
        ("loss.ta_lpo.alpha_start", d.alpha_start),
        ("loss.ta_lpo.alpha_end", d.alpha_end),
        ("loss.ta_lpo.beta_start", d.beta_start),
        ("loss.ta_lpo.beta_end", d.beta_end),
    ] {
        k.real(key, v, Real::POSITIVE);
    }
}
