//! TRLOO, turn-level REINFORCE leave-one-out (Dr. Kernel, KernelGYM
//! `compute_multi_turn_rloo_outcome_advantage`), `credit-outcome.md` §4.
//!
//! `G_{i,t} = r_{i,t} + γ G_{i,t+1}`; at every turn index t the `N_t` trajectories of the
//! prompt that reached turn t form a group and
//! `A_{i,t} = G_{i,t} − (Σ_{j∈S_t} G_{j,t} − G_{i,t})/(N_t − 1)` (`N_t = 1`: `A = G`).
//! The self-inclusive variant ([`TurnBaseline::SelfInclusive`], KernelGYM's multi-turn
//! "grpo") is `G − mean_{S_t} G = (N_t − 1)/N_t · A_TRLOO`.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};

use super::common::{accumulate_returns, unit_interval, TurnValuesBuilder};

/// The baseline subtracted at each (prompt, turn index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnBaseline {
    /// Mean of the other trajectories that reached the turn (TRLOO, unbiased).
    LeaveOneOut,
    /// Mean including the trajectory itself (biased by (N_t − 1)/N_t).
    SelfInclusive,
}

/// Turn-level advantages with a per-(prompt, turn index) baseline, `credit-outcome.md` §4.
/// Flat loops: rewards are appended to the output and turned into returns in place, then
/// the baseline is subtracted; the only allocations are the output and two per-turn-index
/// accumulators.
pub fn turn_baseline_advantages(
    method: &'static str,
    batch: &Batch,
    gamma: f64,
    baseline: TurnBaseline,
) -> Result<TurnValues, CreditError> {
    let mut out = TurnValuesBuilder::new(batch);
    let mut sum: Vec<f64> = Vec::new();
    let mut cnt: Vec<u32> = Vec::new();
    let mut first = 0;
    for g in &batch.groups {
        let n = g.trajectories.len();
        let tmax = g.max_turns();
        sum.clear();
        sum.resize(tmax, 0.0);
        cnt.clear();
        cnt.resize(tmax, 0);
        for t in &g.trajectories {
            let row = out.push_rewards(method, t)?;
            accumulate_returns(gamma, row);
            for (k, &v) in row.iter().enumerate() {
                sum[k] += v;
                cnt[k] += 1;
            }
        }
        for j in 0..n {
            let row = out.traj_mut(first + j);
            for (k, v) in row.iter_mut().enumerate() {
                let c = cnt[k];
                if c > 1 {
                    *v = match baseline {
                        TurnBaseline::LeaveOneOut => *v - (sum[k] - *v) / (c - 1) as f64,
                        TurnBaseline::SelfInclusive => *v - sum[k] / c as f64,
                    };
                }
            }
        }
        first += n;
    }
    Ok(out.finish())
}

pub(crate) static GAMMA_PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "gamma",
    kind: ParamKind::Float,
    default: D::Float(1.0),
    doc: "γ, discount of the per-turn reward-to-go (KernelGYM scripts: 1.0)",
}];

/// `trloo`: registry adapter of [`turn_baseline_advantages`] with the leave-one-out mean.
pub struct Trloo;

impl Estimator for Trloo {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "trloo",
            paper: "Dr. Kernel, TRLOO (KernelGYM; turn-level REINFORCE leave-one-out)",
            idea: "Per-turn reward-to-go minus the mean of the other rollouts that reached the same turn (unbiased at every turn).",
            fields: &["reward"],
            params: GAMMA_PARAMS,
            status: Status::Exact("KernelGYM compute_multi_turn_rloo_outcome_advantage"),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let gamma = unit_interval("trloo", "gamma", p.f64("gamma"))?;
        turn_baseline_advantages("trloo", batch, gamma, TurnBaseline::LeaveOneOut)
            .map(CreditOutput::per_turn)
    }
}
