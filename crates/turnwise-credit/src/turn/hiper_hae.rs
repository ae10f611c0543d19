//! HiPER hierarchical advantage estimation (Peng et al., arXiv 2602.16165),
//! `credit-turn.md` §6. The plan/execute structure is from the paper; the equations are
//! the spec's ASSUMPTION (SMDP / options GAE). No code was published.
//!
//! Segments `[t_k, t_{k+1})` start at turn 0 and at every `switch`. Planner:
//! `δ^H_k = R_k + γ^{L_k} V^H(s_{t_{k+1}}) − V^H(s_{t_k})`, `A^H_k = δ^H_k + γ^{L_k} λ_H A^H_{k+1}`.
//! Executor (per turn, reset at each segment end, bootstrapped with `V^H` at the boundary):
//! `δ^L_t = r_t + γ V^L(s_{t+1}) − V^L(s_t)`, `A^L_t = δ^L_t + γ λ_L A^L_{t+1}`.
//! `V^H(s_T)` is 0 at termination and `bootstrap_value_high` when truncated.

use turnwise_core::{Batch, Trajectory, Turn};

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, Extra, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};

/// HAE's discounts (names as in the reference `hiper_hae`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HaeParams {
    /// γ per turn.
    pub gamma: f64,
    /// λ_H of the planner's GAE over segments.
    pub lam_high: f64,
    /// λ_L of the executor's GAE inside a segment.
    pub lam_low: f64,
}

/// Result of [`hae_advantages`].
#[derive(Debug, Clone, PartialEq)]
pub struct HaeOutput {
    /// Executor advantages `A^L_t`, per turn.
    pub advantages: TurnValues,
    /// Planner advantages `A^H_k`, one per segment of each trajectory.
    pub high_advantages: TurnValues,
    /// The turn index where each segment starts.
    pub segment_starts: TurnValues,
}

const M: &str = "hiper_hae";

/// A required per-turn number of `traj`'s turn `t`, read by `get`.
fn need(
    traj: &Trajectory,
    t: usize,
    field: &'static str,
    get: impl Fn(&Turn) -> Option<f64>,
) -> Result<f64, CreditError> {
    get(&traj.turns[t]).ok_or_else(|| CreditError::missing_turn(M, field, &traj.id, t))
}

fn reward(traj: &Trajectory, t: usize) -> Result<f64, CreditError> {
    need(traj, t, "reward", |u| u.reward)
}

fn value_high(traj: &Trajectory, t: usize) -> Result<f64, CreditError> {
    need(traj, t, "value_high", |u| u.ext().value_high)
}

fn value_low(traj: &Trajectory, t: usize) -> Result<f64, CreditError> {
    need(traj, t, "value_low", |u| u.ext().value_low)
}

/// HAE for every trajectory of the batch (§6, ASSUMPTION form).
pub fn hae_advantages(batch: &Batch, p: &HaeParams) -> Result<HaeOutput, CreditError> {
    let mut adv = TurnValues::zeros(batch);
    let mut high: Vec<Vec<f64>> = Vec::with_capacity(batch.num_trajectories());
    let mut starts_out: Vec<Vec<f64>> = Vec::with_capacity(batch.num_trajectories());
    let mut starts: Vec<usize> = Vec::new();
    let gam = p.gamma;
    for (i, traj) in batch.trajectories().enumerate() {
        let t_len = traj.turns.len();
        starts.clear();
        starts
            .extend((0..t_len).filter(|&t| t == 0 || traj.turns[t].ext().switch.unwrap_or(false)));
        let v_end = if traj.truncated && t_len > 0 {
            traj.ext()
                .bootstrap_value_high
                .ok_or_else(|| CreditError::missing_traj(M, "bootstrap_value_high", &traj.id))?
        } else {
            0.0
        };
        let vh_at = |t: usize| {
            if t == t_len {
                Ok(v_end)
            } else {
                value_high(traj, t)
            }
        };
        let n_seg = starts.len();
        let mut a_h = vec![0.0; n_seg];
        let mut acc = 0.0;
        for k in (0..n_seg).rev() {
            let (s, e) = (starts[k], starts.get(k + 1).copied().unwrap_or(t_len));
            let mut ret = 0.0;
            let mut disc = 1.0;
            for t in s..e {
                ret += disc * reward(traj, t)?;
                disc *= gam;
            }
            // disc = γ^{L_k}
            let delta = ret + disc * vh_at(e)? - vh_at(s)?;
            acc = delta
                + if k + 1 < n_seg {
                    disc * p.lam_high * acc
                } else {
                    0.0
                };
            a_h[k] = acc;
        }
        let a_l = adv.traj_mut(i);
        for k in 0..n_seg {
            let (s, e) = (starts[k], starts.get(k + 1).copied().unwrap_or(t_len));
            let boundary = vh_at(e)?;
            let mut acc = 0.0;
            let mut next_v = boundary;
            for t in (s..e).rev() {
                let v = value_low(traj, t)?;
                let d = reward(traj, t)? + gam * next_v - v;
                acc = d + if t + 1 < e {
                    gam * p.lam_low * acc
                } else {
                    0.0
                };
                a_l[t] = acc;
                next_v = v;
            }
        }
        high.push(a_h);
        starts_out.push(starts.iter().map(|&s| s as f64).collect());
    }
    Ok(HaeOutput {
        advantages: adv,
        high_advantages: TurnValues::from_nested(high),
        segment_starts: TurnValues::from_nested(starts_out),
    })
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(0.95),
        doc: "γ per turn (ASSUMPTION: 0.95)",
    },
    ParamSpec {
        name: "lam_high",
        kind: ParamKind::Float,
        default: D::Float(0.95),
        doc: "λ_H of the planner's GAE over segments (ASSUMPTION: 0.95)",
    },
    ParamSpec {
        name: "lam_low",
        kind: ParamKind::Float,
        default: D::Float(0.95),
        doc: "λ_L of the executor's GAE inside a segment (ASSUMPTION: 0.95)",
    },
];

/// `hiper_hae`: registry adapter of [`hae_advantages`].
pub struct HiperHae;

impl Estimator for HiperHae {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "hiper_hae",
            paper: "HiPER, Hierarchical Plan-Execute RL (arXiv 2602.16165)",
            idea: "Planner gets an SMDP GAE over subgoal segments; executor gets a GAE inside the segment bootstrapped with V^H at the boundary.",
            fields: &["reward", "switch", "value_high", "value_low", "truncated", "bootstrap_value_high"],
            params: PARAMS,
            status: Status::Assumption("no code: SMDP/options GAE form of HAE (credit-turn.md §6)"),
            output: "advantages (executor, per turn; high_advantages per segment)",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let params = HaeParams {
            gamma: p.f64("gamma"),
            lam_high: p.f64("lam_high"),
            lam_low: p.f64("lam_low"),
        };
        let o = hae_advantages(batch, &params)?;
        Ok(CreditOutput::per_turn(o.advantages)
            .with_extra(
                "high_advantages",
                Extra::PerTrajectoryList(o.high_advantages),
            )
            .with_extra("segment_starts", Extra::PerTrajectoryList(o.segment_starts)))
    }
}
