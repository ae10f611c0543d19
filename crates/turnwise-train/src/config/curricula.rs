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
}

impl Default for CurriculaConfig {
    fn default() -> Self {
        CurriculaConfig {
            dynamic_sampling: false,
            max_sample_rounds: 4,
            exit: false,
            exit_prob: 0.5,
            exit_buffer: 256,
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
