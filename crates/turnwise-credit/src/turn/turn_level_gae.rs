//! Turn-level GAE with a turn-level critic (Odysseus, arXiv 2605.00347; generic PPO form),
//! `credit-turn.md` §7.2. γ and λ discount per turn, not per token.
//!
//! `δ_t = r_t + γ V_{t+1} − V_t` (`V_T` = 0 at termination, `bootstrap_value` when
//! truncated), `A_t = δ_t + γλ A_{t+1}`, critic target `G_t = A_t + V_t`; optionally
//! whiten `A` over all turns of the batch (unbiased std). Defaults γ = 0.99, λ = 0.95
//! are ASSUMPTIONS (the paper's values were not retrievable).

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, Extra, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};
use crate::stats::{mean, std_unbiased};

const M: &str = "turn_level_gae";

/// Turn-level GAE (§7.2): returns `(advantages, returns)`, one value per turn.
/// `whiten = Some(eps)` whitens the advantages over the batch; returns use the raw ones.
pub fn turn_level_gae(
    batch: &Batch,
    gamma: f64,
    lam: f64,
    whiten: Option<f64>,
) -> Result<(TurnValues, TurnValues), CreditError> {
    let mut adv = TurnValues::zeros(batch);
    let mut ret = TurnValues::zeros_like(&adv);
    for (i, traj) in batch.trajectories().enumerate() {
        let t_len = traj.turns.len();
        let mut next_v = if traj.truncated && t_len > 0 {
            traj.ext()
                .bootstrap_value
                .ok_or_else(|| CreditError::missing_traj(M, "bootstrap_value", &traj.id))?
        } else {
            0.0
        };
        let (a, g) = (adv.traj_mut(i), ret.traj_mut(i));
        let mut acc = 0.0;
        for t in (0..t_len).rev() {
            let u = &traj.turns[t];
            let v = u
                .ext()
                .value
                .ok_or_else(|| CreditError::missing_turn(M, "value", &traj.id, t))?;
            let r = u
                .reward
                .ok_or_else(|| CreditError::missing_turn(M, "reward", &traj.id, t))?;
            acc = r + gamma * next_v - v + gamma * lam * acc;
            a[t] = acc;
            g[t] = acc + v;
            next_v = v;
        }
    }
    if let Some(eps) = whiten {
        let all = &adv.values;
        let mu = mean(all);
        let sd = if all.len() > 1 {
            std_unbiased(all)
        } else {
            1.0
        };
        adv.values
            .iter_mut()
            .for_each(|x| *x = (*x - mu) / (sd + eps));
    }
    Ok((adv, ret))
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(0.99),
        doc: "γ per turn (ASSUMPTION: 0.99)",
    },
    ParamSpec {
        name: "lam",
        kind: ParamKind::Float,
        default: D::Float(0.95),
        doc: "λ of GAE per turn (ASSUMPTION: 0.95)",
    },
    ParamSpec {
        name: "whiten",
        kind: ParamKind::Bool,
        default: D::Bool(false),
        doc: "whiten advantages over all turns of the batch (unbiased std)",
    },
    ParamSpec {
        name: "eps",
        kind: ParamKind::Float,
        default: D::Float(1e-8),
        doc: "ε added to the std when whitening",
    },
];

/// `turn_level_gae`: registry adapter of [`turn_level_gae`].
pub struct TurnLevelGae;

impl Estimator for TurnLevelGae {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "turn_level_gae",
            paper: "Odysseus turn-level critic (arXiv 2605.00347); generic turn-level PPO/GAE",
            idea:
                "GAE over turns with a turn-level critic V(s_t); every token of a turn shares A_t.",
            fields: &["reward", "value", "truncated", "bootstrap_value"],
            params: PARAMS,
            status: Status::Assumption(
                "Odysseus code not public: generic turn-level GAE, γ = 0.99, λ = 0.95",
            ),
            output: "advantages (+ returns per turn)",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let whiten = p.bool("whiten").then(|| p.f64("eps"));
        let (adv, ret) = turn_level_gae(batch, p.f64("gamma"), p.f64("lam"), whiten)?;
        Ok(CreditOutput::per_turn(adv).with_extra("returns", Extra::PerTurn(ret)))
    }
}
