//! Over-turn masking (Mini-o3, arXiv 2509.07969; Mini-o3 `ignore_exceed`),
//! `credit-outcome.md` §13.
//!
//! GRPO advantages, then every trajectory flagged `truncated` (it hit the turn / image /
//! context budget while still calling tools) has its loss mask zeroed: it contributes no
//! gradient (reported as advantage 0). The released code keeps those trajectories in the
//! group mean and std of their siblings (`exclude_from_stats = false`).

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};
use crate::stats::EPS;

use super::common::{broadcast_per_group, group_moments, outcome};

/// Over-turn-masked GRPO, `credit-outcome.md` §13. With `exclude_from_stats` the group
/// statistics are taken over the non-truncated trajectories only (GRPO's group-of-one rule
/// then applies to what remains).
pub fn over_turn_masked_grpo(
    batch: &Batch,
    eps: f64,
    norm_by_std: bool,
    exclude_from_stats: bool,
) -> Result<TurnValues, CreditError> {
    let mut rs = Vec::new();
    broadcast_per_group(batch, |g, out| {
        rs.clear();
        for t in &g.trajectories {
            let r = outcome("over_turn_mask", t)?;
            if !(exclude_from_stats && t.truncated) {
                rs.push(r);
            }
        }
        if rs.is_empty() {
            return Ok(()); // every trajectory masked
        }
        let m = group_moments(&rs);
        for (v, t) in out.iter_mut().zip(&g.trajectories) {
            *v = match (t.truncated, t.outcome) {
                (false, Some(r)) => m.apply(r, eps, norm_by_std),
                _ => 0.0,
            };
        }
        Ok(())
    })
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "eps",
        kind: ParamKind::Float,
        default: D::Float(EPS),
        doc: "ε added to the group std",
    },
    ParamSpec {
        name: "norm_by_std",
        kind: ParamKind::Bool,
        default: D::Bool(true),
        doc: "GRPO with std (false: Dr. GRPO)",
    },
    ParamSpec {
        name: "exclude_from_stats",
        kind: ParamKind::Bool,
        default: D::Bool(false),
        doc: "drop truncated trajectories from the group mean/std (released code: false)",
    },
];

/// `over_turn_mask`: registry adapter of [`over_turn_masked_grpo`].
pub struct OverTurnMask;

impl Estimator for OverTurnMask {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "over_turn_mask",
            paper: "Mini-o3, over-turn masking (arXiv 2509.07969)",
            idea: "GRPO, then trajectories that ran out of turns while still acting get their loss mask zeroed (advantage 0) instead of a penalty.",
            fields: &["outcome", "truncated"],
            params: PARAMS,
            status: Status::Exact("Mini-o3 dp_actor ignore_exceed + compute_grpo_outcome_advantage"),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        over_turn_masked_grpo(
            batch,
            p.f64("eps"),
            p.bool("norm_by_std"),
            p.bool("exclude_from_stats"),
        )
        .map(CreditOutput::per_turn)
    }
}
