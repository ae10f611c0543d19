//! PRE-GRPO (Generation Navigator, arXiv 2605.17969), `credit-outcome.md` §7.
//! **ASSUMPTION-based**: the paper names Peak, Retention and Efficiency rewards but no
//! formula or code is public. Assumed form, from the per-turn quality scores `s_t`:
//! `P = max_t s_t` (first argmax t*), `Ret = s_{T−1} − P`, `Eff = −(T − 1 − t*)/(T_max − 1)`
//! (0 if `T_max ≤ 1`), `R = w_P·P + w_R·Ret + w_E·Eff`, then GRPO over the prompt group,
//! broadcast to every turn. An empty trajectory has R = 0.

use turnwise_core::{Batch, Trajectory};

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};
use crate::stats::EPS;

use super::common::{broadcast_per_group, group_moments, score};

/// Weights of the assumed PRE-GRPO trajectory reward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreWeights {
    /// w_P, weight of the peak score.
    pub w_peak: f64,
    /// w_R, weight of the retention term `s_{T−1} − P`.
    pub w_ret: f64,
    /// w_E, weight of the efficiency term.
    pub w_eff: f64,
    /// T_max, the turn budget (default: the trajectory's own length).
    pub t_max: Option<i64>,
}

/// The assumed PRE-GRPO trajectory reward `R = w_P·P + w_R·Ret + w_E·Eff` (§7).
pub fn pre_grpo_reward(t: &Trajectory, w: PreWeights) -> Result<f64, CreditError> {
    let n = t.turns.len();
    if n == 0 {
        return Ok(0.0);
    }
    let (mut peak, mut tstar) = (score("pre_grpo", t, 0)?, 0);
    for k in 1..n {
        let s = score("pre_grpo", t, k)?;
        if s > peak {
            (peak, tstar) = (s, k);
        }
    }
    let last = score("pre_grpo", t, n - 1)?;
    let ret = last - peak;
    let tmax = w.t_max.unwrap_or(n as i64);
    let eff = if tmax > 1 {
        -((n - 1 - tstar) as f64) / (tmax - 1) as f64
    } else {
        0.0
    };
    Ok(w.w_peak * peak + w.w_ret * ret + w.w_eff * eff)
}

/// PRE-GRPO advantages: GRPO (std, ε, verl's group-of-one rule) of [`pre_grpo_reward`].
pub fn pre_grpo_advantages(
    batch: &Batch,
    w: PreWeights,
    eps: f64,
) -> Result<TurnValues, CreditError> {
    let mut rs = Vec::new();
    broadcast_per_group(batch, |g, out| {
        rs.clear();
        for t in &g.trajectories {
            rs.push(pre_grpo_reward(t, w)?);
        }
        let m = group_moments(&rs);
        for (v, &r) in out.iter_mut().zip(&rs) {
            *v = m.norm(r, eps);
        }
        Ok(())
    })
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "w_peak",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "w_P, weight of the peak score max_t s_t (ASSUMPTION)",
    },
    ParamSpec {
        name: "w_ret",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "w_R, weight of retention s_{T−1} − P (ASSUMPTION)",
    },
    ParamSpec {
        name: "w_eff",
        kind: ParamKind::Float,
        default: D::Float(0.1),
        doc: "w_E, weight of efficiency −(T−1−t*)/(T_max−1) (ASSUMPTION)",
    },
    ParamSpec {
        name: "t_max",
        kind: ParamKind::OptInt,
        default: D::None,
        doc: "T_max, the turn budget (none: the trajectory's length)",
    },
    ParamSpec {
        name: "eps",
        kind: ParamKind::Float,
        default: D::Float(EPS),
        doc: "ε added to the group std",
    },
];

/// `pre_grpo`: registry adapter of [`pre_grpo_advantages`].
pub struct PreGrpo;

impl Estimator for PreGrpo {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "pre_grpo",
            paper: "PRE-GRPO, Generation Navigator (arXiv 2605.17969)",
            idea: "Trajectory reward from the per-turn quality scores (peak, retention, efficiency), then GRPO over the prompt group.",
            fields: &["score"],
            params: PARAMS,
            status: Status::Assumption(
                "Peak/Retention/Efficiency definitions and weights (1, 1, 0.1) are assumed; no public formula or code",
            ),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let w = PreWeights {
            w_peak: p.f64("w_peak"),
            w_ret: p.f64("w_ret"),
            w_eff: p.f64("w_eff"),
            t_max: p.opt_i64("t_max"),
        };
        pre_grpo_advantages(batch, w, p.f64("eps")).map(CreditOutput::per_turn)
    }
}
