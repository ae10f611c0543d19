//! SeeUPO, sequence-level sequential update (arXiv 2602.06554; dy-liang/seeupo_v2
//! `ba_ray_trainer.py`), `credit-outcome.md` §11.
//!
//! Turn index k is a "virtual agent"; turns are updated in reverse order K−1 … 0. At turn k
//! each trajectory is a row, active iff it has turn k (row reward R_i). The advantage is
//! GRPO over the active rows of each prompt (released config: no std), then
//! `special_norm` over all active rows of the batch (`(A − mean)/std` if std > 1e-6 else
//! `A − mean`, clipped to [−3, 3]), times the clipped product M_i of the sequence ratios of
//! the turns already updated: `s = clip(exp(clip(ℓ, −10, 10)), 1−ε_l, 1+ε_h)`,
//! `M ← clip(M·s, 1−ε_l, 1+ε_h)`, with ℓ = `turn.seq_log_ratio` (inactive rows: s = 1).
//! ASSUMPTION (spec §11): the reward of a turn row is its trajectory's outcome.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::moments::Moments;
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};
use crate::stats::EPS;

use super::common::{group_moments, outcome};

/// SeeUPO options (names of the reference implementation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeeupoOptions {
    /// ε of the GRPO std.
    pub eps: f64,
    /// GRPO with std (false in the released config).
    pub norm_by_std: bool,
    /// Batch-level re-normalisation and clip to [−3, 3] of each turn's advantages.
    pub special_norm: bool,
    /// ε_l of the ratio clip.
    pub clip_low: f64,
    /// ε_h of the ratio clip.
    pub clip_high: f64,
    /// K, the number of virtual agents (default: the longest trajectory).
    pub n_turns: Option<usize>,
}

/// SeeUPO advantages, `credit-outcome.md` §11. `turn.seq_log_ratio` is read for every
/// turn k ≥ 1 below K (turn 0's ratio would only affect turns before it).
pub fn seeupo_advantages(batch: &Batch, o: SeeupoOptions) -> Result<TurnValues, CreditError> {
    const M: &str = "seeupo";
    let mut out = TurnValues::zeros(batch);
    let nt = out.num_trajectories();
    let kk = o.n_turns.unwrap_or_else(|| batch.max_turns());
    let mut ratio = vec![1.0; nt];
    let mut outcomes = Vec::with_capacity(nt);
    for t in batch.trajectories() {
        outcomes.push(outcome(M, t)?);
    }
    let (lo, hi) = (1.0 - o.clip_low, 1.0 + o.clip_high);
    let mut act = Vec::new(); // (trajectory index, raw advantage) of the active rows
    let mut col = Vec::new();
    let mut vals = Vec::new();
    for k in (0..kk).rev() {
        act.clear();
        let mut first = 0;
        for g in &batch.groups {
            col.clear();
            for (j, t) in g.trajectories.iter().enumerate() {
                if t.turns.len() > k {
                    col.push(outcomes[first + j]);
                }
            }
            let m = group_moments(&col);
            for (j, t) in g.trajectories.iter().enumerate() {
                if t.turns.len() > k {
                    act.push((
                        first + j,
                        m.apply(outcomes[first + j], o.eps, o.norm_by_std),
                    ));
                }
            }
            first += g.trajectories.len();
        }
        if o.special_norm && !act.is_empty() {
            vals.clear();
            vals.extend(act.iter().map(|&(_, a)| a));
            let m = Moments::of(&vals);
            let by_std = m.std > 1e-6 * m.scale; // NaN-safe: NaN > x is false
            for (_, a) in act.iter_mut() {
                let v = if by_std {
                    (*a * m.scale - m.mean) / m.std
                } else {
                    m.center(*a)
                };
                *a = v.clamp(-3.0, 3.0);
            }
        }
        for &(i, a) in &act {
            out.traj_mut(i)[k] = a * ratio[i];
        }
        if k == 0 {
            break;
        }
        for (i, t) in batch.trajectories().enumerate() {
            let s = match t.turns.get(k) {
                Some(turn) => {
                    let l = turn
                        .ext()
                        .seq_log_ratio
                        .ok_or_else(|| CreditError::missing_turn(M, "seq_log_ratio", &t.id, k))?;
                    l.clamp(-10.0, 10.0).exp().clamp(lo, hi)
                }
                None => 1.0f64.clamp(lo, hi),
            };
            ratio[i] = (ratio[i] * s).clamp(lo, hi);
        }
    }
    Ok(out)
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "eps",
        kind: ParamKind::Float,
        default: D::Float(EPS),
        doc: "ε added to the GRPO std",
    },
    ParamSpec {
        name: "norm_by_std",
        kind: ParamKind::Bool,
        default: D::Bool(false),
        doc: "GRPO with std (released config: false, \"otherwise not converge\")",
    },
    ParamSpec {
        name: "special_norm",
        kind: ParamKind::Bool,
        default: D::Bool(true),
        doc: "re-normalise each turn's advantages over the batch and clip to [−3, 3]",
    },
    ParamSpec {
        name: "clip_low",
        kind: ParamKind::Float,
        default: D::Float(0.2),
        doc: "ε_l of the sequence-ratio clip (adv_clip_ratio_low)",
    },
    ParamSpec {
        name: "clip_high",
        kind: ParamKind::Float,
        default: D::Float(0.2),
        doc: "ε_h of the sequence-ratio clip (adv_clip_ratio_high)",
    },
    ParamSpec {
        name: "n_turns",
        kind: ParamKind::OptInt,
        default: D::None,
        doc: "K, number of virtual agents (max_steps; none: the longest trajectory)",
    },
];

/// `seeupo`: registry adapter of [`seeupo_advantages`].
pub struct Seeupo;

impl Estimator for Seeupo {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "seeupo",
            paper: "SeeUPO, sequence-level sequential update (arXiv 2602.06554)",
            idea: "Turns updated in reverse order as separate agents; each turn's GRAE advantage times the clipped product of the later turns' sequence ratios.",
            fields: &["outcome", "seq_log_ratio"],
            params: PARAMS,
            status: Status::Assumption(
                "reward of each turn row = the trajectory's outcome (data conversion); otherwise dy-liang/seeupo_v2",
            ),
            output: "advantages",
            kind: OutputKind::ReverseSequential,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let bad = |param: &str, message: String| CreditError::BadParam {
            method: "seeupo".into(),
            param: param.into(),
            message,
        };
        let (cl, ch) = (p.f64("clip_low"), p.f64("clip_high"));
        if !(0.0..1.0).contains(&cl) {
            return Err(bad("clip_low", format!("must lie in [0, 1), got {cl}")));
        }
        if ch < 0.0 {
            return Err(bad("clip_high", format!("must be ≥ 0, got {ch}")));
        }
        let n_turns = match p.opt_i64("n_turns") {
            Some(n) if n < 0 => return Err(bad("n_turns", format!("must be ≥ 0, got {n}"))),
            n => n.map(|n| n as usize),
        };
        let o = SeeupoOptions {
            eps: p.f64("eps"),
            norm_by_std: p.bool("norm_by_std"),
            special_norm: p.bool("special_norm"),
            clip_low: cl,
            clip_high: ch,
            n_turns,
        };
        seeupo_advantages(batch, o).map(CreditOutput::per_turn)
    }
}
