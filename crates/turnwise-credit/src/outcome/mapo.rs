//! MAPO, mixed advantage for multi-turn dialogue (arXiv 2603.06194),
//! `credit-outcome.md` §8. **Partially ASSUMPTION** (no code; abstract and a secondary
//! summary only): per-turn judge scores `s_t` give rewards `r_t = s_t` (or the increment
//! `s_t − s_{t−1}`, `s_{−1} = s_init`), Monte Carlo returns `G_t`; a turn-level
//! normalisation of `G` over the prompt's trajectories that reached turn t (singleton → 0)
//! is mixed with a batch-level normalisation of `r` (or `G`) over every turn of the batch:
//! `A = λ·A^T + (1 − λ)·A^B`.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::moments::Moments;
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};
use crate::stats::EPS;

use super::common::{score, unit_interval};

/// MAPO options (names of the reference implementation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapoOptions {
    /// γ of the Monte Carlo return.
    pub gamma: f64,
    /// λ, weight of the turn-level term.
    pub lam: f64,
    /// ε added to both stds.
    pub eps: f64,
    /// Incremental reward `s_t − s_{t−1}` instead of the absolute score.
    pub incremental: bool,
    /// `s_{−1}` for the incremental reward.
    pub s_init: f64,
    /// Batch-level normalisation of the return (true) instead of the reward (false).
    pub batch_on_return: bool,
}

/// MAPO advantages, `credit-outcome.md` §8.
pub fn mapo_advantages(batch: &Batch, o: MapoOptions) -> Result<TurnValues, CreditError> {
    // Rewards and returns, flat in batch order.
    let mut r = TurnValues::zeros(batch);
    let mut ret = TurnValues::zeros(batch);
    for (i, t) in batch.trajectories().enumerate() {
        let mut prev = o.s_init;
        let rr = r.traj_mut(i);
        for (k, v) in rr.iter_mut().enumerate() {
            let s = score("mapo", t, k)?;
            *v = if o.incremental { s - prev } else { s };
            prev = s;
        }
        let mut run = 0.0;
        let rr = r.traj(i);
        for (k, v) in ret.traj_mut(i).iter_mut().enumerate().rev() {
            run = rr[k] + o.gamma * run;
            *v = run;
        }
    }
    let x = if o.batch_on_return { &ret } else { &r };
    let bm = (x.values.len() > 1).then(|| Moments::of(&x.values));

    let mut out = TurnValues::zeros(batch);
    let mut col = Vec::new();
    let mut first = 0;
    for g in &batch.groups {
        let n = g.trajectories.len();
        let tmax = g.max_turns();
        for k in 0..tmax {
            col.clear();
            col.extend((0..n).filter_map(|j| ret.traj(first + j).get(k).copied()));
            let tm = (col.len() > 1).then(|| Moments::of(&col));
            for j in 0..n {
                let Some(&gv) = ret.traj(first + j).get(k) else {
                    continue;
                };
                let at = tm.map_or(0.0, |m| m.norm(gv, o.eps));
                let ab = bm.map_or(0.0, |m| m.norm(x.traj(first + j)[k], o.eps));
                out.traj_mut(first + j)[k] = o.lam * at + (1.0 - o.lam) * ab;
            }
        }
        first += n;
    }
    Ok(out)
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "γ of the Monte Carlo return (ASSUMPTION)",
    },
    ParamSpec {
        name: "lam",
        kind: ParamKind::Float,
        default: D::Float(0.5),
        doc: "λ: A = λ·A_turn + (1 − λ)·A_batch (ASSUMPTION)",
    },
    ParamSpec {
        name: "eps",
        kind: ParamKind::Float,
        default: D::Float(EPS),
        doc: "ε added to both stds",
    },
    ParamSpec {
        name: "incremental",
        kind: ParamKind::Bool,
        default: D::Bool(false),
        doc: "incremental distance reward s_t − s_{t−1} instead of s_t",
    },
    ParamSpec {
        name: "s_init",
        kind: ParamKind::Float,
        default: D::Float(0.0),
        doc: "s_{−1}, the score before the first turn (incremental reward)",
    },
    ParamSpec {
        name: "batch_target",
        kind: ParamKind::Choice(&["reward", "return"]),
        default: D::Str("reward"),
        doc: "what the batch-level term normalises: the reward r or the return G (ASSUMPTION)",
    },
];

/// `mapo`: registry adapter of [`mapo_advantages`].
pub struct Mapo;

impl Estimator for Mapo {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "mapo",
            paper: "MAPO, mixed advantage policy optimisation for dialogue (arXiv 2603.06194)",
            idea: "Judge scores as per-turn rewards; λ-mix of turn-position-level return normalisation and batch-level reward normalisation.",
            fields: &["score"],
            params: PARAMS,
            status: Status::Assumption(
                "mixing rule (convex, λ = 0.5), batch-level target (reward) and γ = 1 are assumed; no public code",
            ),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let o = MapoOptions {
            gamma: unit_interval("mapo", "gamma", p.f64("gamma"))?,
            lam: p.f64("lam"),
            eps: p.f64("eps"),
            incremental: p.bool("incremental"),
            s_init: p.f64("s_init"),
            batch_on_return: p.str("batch_target") == "return",
        };
        mapo_advantages(batch, o).map(CreditOutput::per_turn)
    }
}
