//! Self-inclusive turn-level mean baseline (KernelGYM multi-turn "grpo" estimator),
//! `credit-outcome.md` §4: `A_{i,t} = G_{i,t} − mean_{S_t} G_{·,t}` (`N_t = 1`: `A = G`),
//! the estimator whose `(N_t − 1)/N_t` shrinkage TRLOO removes.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::CreditOutput;
use crate::params::Params;

use super::common::unit_interval;
use super::trloo::{turn_baseline_advantages, TurnBaseline, GAMMA_PARAMS};

/// `turn_mean_baseline`: registry adapter of [`turn_baseline_advantages`] with the
/// self-inclusive mean.
pub struct TurnMeanBaseline;

impl Estimator for TurnMeanBaseline {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "turn_mean_baseline",
            paper: "Dr. Kernel / KernelGYM multi-turn GRPO baseline (self-inclusive)",
            idea: "Per-turn reward-to-go minus the mean over the rollouts that reached the turn, itself included (= (N_t−1)/N_t · TRLOO).",
            fields: &["reward"],
            params: GAMMA_PARAMS,
            status: Status::Exact("KernelGYM multi-turn adv_estimator \"grpo\""),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let gamma = unit_interval("turn_mean_baseline", "gamma", p.f64("gamma"))?;
        turn_baseline_advantages(
            "turn_mean_baseline",
            batch,
            gamma,
            TurnBaseline::SelfInclusive,
        )
        .map(CreditOutput::per_turn)
    }
}
