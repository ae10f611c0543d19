//! A-GRAE, asymmetric group relative advantage estimation (arXiv 2602.05548; Yu7-code/A-GRAE
//! `compute_grpo_outcome_advantage`, branch `grpo_weight == 2.0`), `credit-outcome.md` §6.
//!
//! With `A_i` the GRPO (or Dr. GRPO) advantage, `p_g` the group's mean reward and `m` the
//! mean of `p_g` over the batch's groups (≈ batch accuracy):
//! `A' = (1 − m)·0.5·A/(1 − √p + ε) + m·0.5·A/(√p + ε)`, and positive `A'` are multiplied
//! by `min(1, m/α)`. ASSUMPTION (spec §6): the released trainer never enters this branch
//! after step 0; the branch body is taken as the method, with `m` the only dynamic
//! quantity.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};
use crate::stats::EPS;

use super::common::{broadcast_per_group, group_moments, outcomes_into, positive};

/// A-GRAE options (names of the reference implementation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AGraeOptions {
    /// ε of the GRPO normalisation and of both focus denominators.
    pub eps: f64,
    /// GRPO with std (true) or Dr. GRPO (false) as the base advantage.
    pub norm_by_std: bool,
    /// α: positives are scaled by `min(1, m/α)` (1 for math, 0.5 for geo3k / medical).
    pub alpha: f64,
    /// An externally supplied batch mean accuracy `m` (default: mean of the group means).
    pub batch_mean: Option<f64>,
    /// A group of one gets 0 (true, recommended) instead of the released code's
    /// exploding `0.5·A/ε` (false).
    pub guard_singleton: bool,
}

/// A-GRAE advantages, `credit-outcome.md` §6. Outcomes must lie in `[0, 1]` (√p).
pub fn a_grae_advantages(batch: &Batch, o: AGraeOptions) -> Result<TurnValues, CreditError> {
    const M: &str = "a_grae";
    let mut rs = Vec::new();
    let mut p_sum = 0.0;
    for g in &batch.groups {
        outcomes_into(M, g, &mut rs)?;
        for (t, &r) in g.trajectories.iter().zip(&rs) {
            if !(0.0..=1.0).contains(&r) {
                return Err(CreditError::BadInput {
                    method: M,
                    message: format!(
                        "trajectory {:?}: outcome {r} outside [0, 1] (A-GRAE uses √p)",
                        t.id
                    ),
                });
            }
        }
        if rs.len() > 1 {
            p_sum += rs.iter().sum::<f64>() / rs.len() as f64;
        }
    }
    let m = o
        .batch_mean
        .unwrap_or(p_sum / batch.groups.len().max(1) as f64);
    broadcast_per_group(batch, |g, out| {
        outcomes_into(M, g, &mut rs)?;
        let single = rs.len() == 1;
        if single && o.guard_singleton {
            out.fill(0.0);
            return Ok(());
        }
        // verl: p := 0 for a group of one.
        let p = if single {
            0.0
        } else {
            rs.iter().sum::<f64>() / rs.len() as f64
        };
        let sp = p.sqrt();
        let gm = group_moments(&rs);
        for (v, &r) in out.iter_mut().zip(&rs) {
            let a = gm.apply(r, o.eps, o.norm_by_std);
            let hard = 0.5 * a / (sp + o.eps);
            let easy = 0.5 * a / (1.0 - sp + o.eps);
            let mut a2 = (1.0 - m) * easy + m * hard;
            if a2 > 0.0 {
                a2 *= (m / o.alpha).min(1.0);
            }
            *v = a2;
        }
        Ok(())
    })
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "eps",
        kind: ParamKind::Float,
        default: D::Float(EPS),
        doc: "ε of the GRPO std and of the focus denominators",
    },
    ParamSpec {
        name: "norm_by_std",
        kind: ParamKind::Bool,
        default: D::Bool(true),
        doc: "base advantage GRPO (true) or Dr. GRPO (false)",
    },
    ParamSpec {
        name: "alpha",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "α: positives scaled by min(1, m/α) (1 math, 0.5 geo3k/medical)",
    },
    ParamSpec {
        name: "batch_mean",
        kind: ParamKind::OptFloat,
        default: D::None,
        doc: "batch mean accuracy m (default: mean of the group mean rewards)",
    },
    ParamSpec {
        name: "guard_singleton",
        kind: ParamKind::Bool,
        default: D::Bool(true),
        doc: "group of one → 0 (false reproduces the released code's 0.5·A/ε)",
    },
];

/// `a_grae`: registry adapter of [`a_grae_advantages`].
pub struct AGrae;

impl Estimator for AGrae {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "a_grae",
            paper: "A-GRAE, asymmetric group relative advantage estimation (arXiv 2602.05548)",
            idea: "GRPO advantage reweighted from easy-prompt to hard-prompt focus as batch accuracy m grows; positives suppressed by min(1, m/α).",
            fields: &["outcome"],
            params: PARAMS,
            status: Status::Assumption(
                "branch body of Yu7-code/A-GRAE taken as the method (the released trainer never enters it after step 0); batch mean accuracy m is the only dynamic quantity",
            ),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let o = AGraeOptions {
            eps: positive("a_grae", "eps", p.f64("eps"))?,
            norm_by_std: p.bool("norm_by_std"),
            alpha: positive("a_grae", "alpha", p.f64("alpha"))?,
            batch_mean: p.opt_f64("batch_mean"),
            guard_singleton: p.bool("guard_singleton"),
        };
        a_grae_advantages(batch, o).map(CreditOutput::per_turn)
    }
}
