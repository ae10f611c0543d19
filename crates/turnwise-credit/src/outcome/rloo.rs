//! RLOO, REINFORCE Leave-One-Out (Ahmadian et al., "Back to Basics", arXiv 2402.14740;
//! Kool et al. 2019), `credit-outcome.md` §2.
//!
//! `A_i = R_i − (1/(N−1)) Σ_{j≠i} R_j = N/(N−1)·(R_i − μ_g)`, broadcast to every turn.
//! The leave-one-out baseline is independent of sample i, so the estimator is unbiased.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};

use super::common::{broadcast_per_group, outcomes_into};

/// What a group of one gets (no other sample to compare with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlooSingleton {
    /// verl's loop implementation: `A = R` (baseline 0).
    Raw,
    /// verl's vectorised implementation: `A = 0`.
    Zero,
}

/// RLOO advantages (`credit-outcome.md` §2): `A_i = R_i − (S − R_i)/(N − 1)`.
pub fn rloo_advantages(batch: &Batch, singleton: RlooSingleton) -> Result<TurnValues, CreditError> {
    let mut rs = Vec::new();
    broadcast_per_group(batch, |g, out| {
        outcomes_into("rloo", g, &mut rs)?;
        let n = rs.len();
        if n == 1 {
            out[0] = match singleton {
                RlooSingleton::Raw => rs[0],
                RlooSingleton::Zero => 0.0,
            };
            return Ok(());
        }
        let s: f64 = rs.iter().sum();
        let inv = 1.0 / (n - 1) as f64;
        for (o, &r) in out.iter_mut().zip(&rs) {
            *o = r - (s - r) * inv;
        }
        Ok(())
    })
}

static PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "singleton",
    kind: ParamKind::Choice(&["raw", "zero"]),
    default: D::Str("raw"),
    doc: "group of one: A = R (verl loop version) or A = 0 (verl vectorised version)",
}];

/// `rloo`: registry adapter of [`rloo_advantages`].
pub struct Rloo;

impl Estimator for Rloo {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "rloo",
            paper: "RLOO, Back to Basics: REINFORCE-style optimisation for RLHF (arXiv 2402.14740)",
            idea: "Outcome minus the mean outcome of the other samples of the group (unbiased leave-one-out baseline).",
            fields: &["outcome"],
            params: PARAMS,
            status: Status::Exact("verl compute_rloo_outcome_advantage"),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let s = match p.str("singleton") {
            "zero" => RlooSingleton::Zero,
            _ => RlooSingleton::Raw,
        };
        rloo_advantages(batch, s).map(CreditOutput::per_turn)
    }
}
