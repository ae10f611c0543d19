//! ArCHer — hierarchical multi-turn actor-critic (Zhou et al., arXiv 2402.19446),
//! `credit-turn.md` §7.1. Exact port of `YifeiZhou02/ArCHer`
//! (`archer/algorithms/archer/trainer.py`): the utterance-level advantage and the TD
//! targets of the double critic, from given critic outputs.
//!
//! `A_t = min(Q1, Q2)(s_t, a_t) − min(V1, V2)(s_t)` (one-step, no GAE);
//! Q-head targets `y_Q^h = r_t + γ (1 − done_t) V̄^h(s_{t+1})`; V-head targets
//! `y_V^h = Q̄^h(s_t, a' ~ π)`. The last turn is done, also when truncated (code), unless
//! `bootstrap_truncated` (an option, not ArCHer).

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, Extra, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};

const M: &str = "archer";

/// Result of [`archer_targets`].
#[derive(Debug, Clone, PartialEq)]
pub struct ArcherOutput {
    /// `A_t`, per turn.
    pub advantages: TurnValues,
    /// `[y_Q^1, y_Q^2, …]` per turn (one per critic head).
    pub q_targets: Vec<Vec<Vec<f64>>>,
    /// `[y_V^1, y_V^2, …]` per turn; `None` when no turn carries `q_target_pi`.
    pub v_targets: Option<Vec<Vec<Vec<f64>>>>,
}

fn min_of(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// ArCHer's turn-level advantages and critic targets (§7.1). `q`, `v` and `reward` are
/// required on every turn, `v_target_next` on every non-terminal turn; `q_target_pi` on
/// every turn or on none.
pub fn archer_targets(
    batch: &Batch,
    gamma: f64,
    bootstrap_truncated: bool,
) -> Result<ArcherOutput, CreditError> {
    let mut adv = TurnValues::zeros(batch);
    let mut q_targets = Vec::with_capacity(batch.num_trajectories());
    let mut v_targets = Vec::with_capacity(batch.num_trajectories());
    let with_v = batch
        .trajectories()
        .flat_map(|t| &t.turns)
        .any(|u| u.ext().q_target_pi.is_some());
    for (i, traj) in batch.trajectories().enumerate() {
        let t_len = traj.turns.len();
        let a = adv.traj_mut(i);
        let mut qt = Vec::with_capacity(t_len);
        let mut vt = Vec::with_capacity(if with_v { t_len } else { 0 });
        for (t, u) in traj.turns.iter().enumerate() {
            let e = u.ext();
            let miss = |f| CreditError::missing_turn(M, f, &traj.id, t);
            let q =
                e.q.as_deref()
                    .filter(|q| !q.is_empty())
                    .ok_or_else(|| miss("q"))?;
            let v =
                e.v.as_deref()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| miss("v"))?;
            a[t] = min_of(q) - min_of(v);
            let r = u.reward.ok_or_else(|| miss("reward"))?;
            let done = t + 1 == t_len && !(traj.truncated && bootstrap_truncated);
            qt.push(match (&e.v_target_next, done) {
                (_, true) => {
                    let heads = e.v_target_next.as_ref().map_or(q.len(), Vec::len);
                    vec![r; heads]
                }
                (Some(next), false) => next.iter().map(|x| r + gamma * x).collect(),
                (None, false) => return Err(miss("v_target_next")),
            });
            if with_v {
                vt.push(e.q_target_pi.clone().ok_or_else(|| miss("q_target_pi"))?);
            }
        }
        q_targets.push(qt);
        v_targets.push(vt);
    }
    Ok(ArcherOutput {
        advantages: adv,
        q_targets,
        v_targets: with_v.then_some(v_targets),
    })
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(0.95),
        doc: "γ of the critic's TD targets (default.yaml: 0.95)",
    },
    ParamSpec {
        name: "bootstrap_truncated",
        kind: ParamKind::Bool,
        default: D::Bool(false),
        doc: "bootstrap a truncated last turn with V̄(s_T) (not ArCHer: the code treats the turn limit as done)",
    },
];

/// `archer`: registry adapter of [`archer_targets`].
pub struct Archer;

impl Estimator for Archer {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "archer",
            paper: "ArCHer, hierarchical multi-turn RL (arXiv 2402.19446)",
            idea: "Utterance-level double critic: A = min Q − min V per turn; TD targets for the Q and V heads.",
            fields: &["reward", "q", "v", "v_target_next", "q_target_pi", "truncated"],
            params: PARAMS,
            status: Status::Exact("YifeiZhou02/ArCHer archer/algorithms/archer/trainer.py"),
            output: "advantages (+ q_targets, v_targets per turn and head)",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let o = archer_targets(batch, p.f64("gamma"), p.bool("bootstrap_truncated"))?;
        let mut out = CreditOutput::per_turn(o.advantages)
            .with_extra("q_targets", Extra::PerTurnVec(o.q_targets));
        if let Some(v) = o.v_targets {
            out = out.with_extra("v_targets", Extra::PerTurnVec(v));
        }
        Ok(out)
    }
}
