//! SCRL, subproblem-level normalisation (arXiv 2605.22074), `credit-outcome.md` §9.
//! Turn k is subproblem k (its answer span). With correctness `c_{i,k}` (`turn.reward`,
//! in [0, 1]; a subproblem the trajectory never reached counts 0), the progress-aware
//! reward is the consecutive-correct prefix `r_{i,k} = Π_{j≤k} c_{i,j}` (or `c_{i,k}`),
//! normalised GRPO-style independently at each position k over the prompt's N rollouts
//! (group of one: μ = 0, σ = 1; all equal → 0).
//! ASSUMPTION: unbiased std + ε = 1e-6 as GRPO; the tokens of turn k are the answer span.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};
use crate::stats::EPS;

use super::common::{group_moments, reward};

/// SCRL advantages, `credit-outcome.md` §9.
pub fn scrl_advantages(
    batch: &Batch,
    eps: f64,
    progress_aware: bool,
    norm_by_std: bool,
) -> Result<TurnValues, CreditError> {
    const M: &str = "scrl";
    // r_{i,k} into the output rows (only k < T_i is stored; padded positions are 0).
    let mut out = TurnValues::zeros(batch);
    for (i, t) in batch.trajectories().enumerate() {
        let mut run = 1.0;
        for k in 0..t.turns.len() {
            let c = reward(M, t, k)?;
            if !(0.0..=1.0).contains(&c) {
                return Err(CreditError::BadInput {
                    method: M,
                    message: format!(
                        "trajectory {:?} turn {k}: reward (subproblem correctness) {c} outside [0, 1]",
                        t.id
                    ),
                });
            }
            run = if progress_aware { run * c } else { c };
            out.traj_mut(i)[k] = run;
        }
    }
    let mut col = Vec::new();
    let mut first = 0;
    for g in &batch.groups {
        let n = g.trajectories.len();
        let kmax = g.max_turns();
        for k in 0..kmax {
            col.clear();
            col.extend((0..n).map(|j| out.traj(first + j).get(k).copied().unwrap_or(0.0)));
            let m = group_moments(&col);
            for j in 0..n {
                if let Some(v) = out.traj_mut(first + j).get_mut(k) {
                    *v = m.apply(*v, eps, norm_by_std);
                }
            }
        }
        first += n;
    }
    Ok(out)
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "eps",
        kind: ParamKind::Float,
        default: D::Float(EPS),
        doc: "ε added to the per-position std (ASSUMPTION: as GRPO)",
    },
    ParamSpec {
        name: "progress_aware",
        kind: ParamKind::Bool,
        default: D::Bool(true),
        doc: "reward only the consecutive-correct prefix Π_{j≤k} c_j (false: c_k)",
    },
    ParamSpec {
        name: "norm_by_std",
        kind: ParamKind::Bool,
        default: D::Bool(true),
        doc: "divide by the per-position std (false: centre only)",
    },
];

/// `scrl`: registry adapter of [`scrl_advantages`].
pub struct Scrl;

impl Estimator for Scrl {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "scrl",
            paper: "SCRL, subproblem-level credit (arXiv 2605.22074)",
            idea: "Progress-aware subproblem rewards normalised across the group independently at each subproblem position; each on its answer span.",
            fields: &["reward"],
            params: PARAMS,
            status: Status::Assumption(
                "GRPO-style unbiased std + ε = 1e-6 per position, and turn k's tokens as subproblem k's span",
            ),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        scrl_advantages(
            batch,
            p.f64("eps"),
            p.bool("progress_aware"),
            p.bool("norm_by_std"),
        )
        .map(CreditOutput::per_turn)
    }
}
