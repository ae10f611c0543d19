//! A²TGPO — Agentic Turn-Group Policy Optimization with adaptive turn-level clipping
//! (Chen et al., arXiv 2605.06200), `credit-turn.md` §2. The authors' code was not
//! retrievable: turn-group normalisation and the √(#terms) rescaling are PAPER (abstract),
//! the clip rule is SECONDARY, the rest ASSUMPTION (named below).
//!
//! * IG as in IGPO (`prob_diff`, ASSUMPTION), normalised per (prompt, turn index) with
//!   `std_igpo` (ASSUMPTION); the outcome normalised over the prompt group (ASSUMPTION).
//! * `A_{i,k} = Σ_{j≥k} γ^{j−k} n_{i,j} / sqrt(T_i − k)`.
//! * `ε_{i,k} = clip_eps · (1 + β (2σ(n_{i,k}) − 1))` on IG turns; the answer turn keeps
//!   `clip_eps` (ASSUMPTION). Emitted as the per-turn extra `clip_eps` for the loss; a
//!   loss with decoupled bounds (ε_low, ε_high) scales both by `c = ε_{i,k} / clip_eps`
//!   (ASSUMPTION).
//! * Truncated / missing log-probs: IGPO's outcome-only fallback (ASSUMPTION).

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, Extra, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params, EPS_PARAM};
use crate::stats::{mean, std_igpo};
use crate::turn::igpo::{info_gain_rewards, missing_gold_logprob, InfoGainType};
use crate::turn::index_stats::{IndexStats, StdKind};
use crate::turn::prefetch;

/// A²TGPO's parameters (names as in the reference `a2tgpo`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct A2tgpoParams {
    /// IG definition (ASSUMPTION: `prob_diff`).
    pub info_gain_type: InfoGainType,
    /// γ of the accumulation.
    pub gamma: f64,
    /// β of the adaptive clip (SECONDARY: 0.3).
    pub beta: f64,
    /// Base PPO clip range ε.
    pub clip_eps: f64,
    /// ε added to the std.
    pub eps: f64,
    /// `true`: the answer turn's clip range is also adapted (default: neutral, `c = 1`).
    pub adaptive_answer_clip: bool,
}

/// Result of [`a2tgpo_advantages`], one value per turn in batch order.
#[derive(Debug, Clone, PartialEq)]
pub struct A2tgpoOutput {
    /// `A_{i,k}`.
    pub advantages: TurnValues,
    /// `ε_{i,k}`: per-turn PPO clip range for the loss.
    pub clip_eps: TurnValues,
    /// `n_{i,k}`: the turn-group-normalised rewards.
    pub normalized: TurnValues,
}

/// A²TGPO advantages and per-turn clip ranges (`credit-turn.md` §2).
pub fn a2tgpo_advantages(batch: &Batch, p: &A2tgpoParams) -> Result<A2tgpoOutput, CreditError> {
    let mut n = TurnValues::zeros(batch);
    let mut adv = TurnValues::zeros_like(&n);
    let mut clip = TurnValues::zeros_like(&n);
    let mut fallback: Vec<bool> = Vec::new();
    let mut outcomes: Vec<f64> = Vec::new();
    let mut stats = IndexStats::default();
    let (mut needed, mut usable) = (0usize, 0usize);
    let mut ahead = prefetch::Lookahead::new(&batch.groups, prefetch::GOLD_LOGPROB);
    let mut ti = 0;
    for g in &batch.groups {
        let first = ti;
        fallback.clear();
        outcomes.clear();
        for traj in &g.trajectories {
            ahead.step();
            let r = n.traj_mut(ti);
            let fb = info_gain_rewards("a2tgpo", traj, p.info_gain_type, r)?;
            if let Some(&last) = r.last() {
                outcomes.push(last);
            }
            if traj.turns.len() > 1 && !traj.truncated {
                needed += 1;
                usable += usize::from(!fb);
            }
            fallback.push(fb);
            ti += 1;
        }
        let fb = &fallback;
        stats.compute(
            &n,
            first..ti,
            |i| {
                let len = n.traj(i).len();
                if fb[i - first] {
                    0
                } else {
                    len.saturating_sub(1)
                }
            },
            StdKind::Igpo,
        );
        let (mu_o, sd_o) = if outcomes.is_empty() {
            (0.0, 1.0)
        } else {
            (mean(&outcomes), std_igpo(&outcomes))
        };
        let coef = |x: f64| p.clip_eps * (1.0 + p.beta * (2.0 / (1.0 + (-x).exp()) - 1.0));
        let answer_clip = |x: f64| {
            if p.adaptive_answer_clip {
                coef(x)
            } else {
                p.clip_eps
            }
        };
        for (k, &fb) in fallback.iter().enumerate() {
            let i = first + k;
            let nv = n.traj_mut(i);
            let t_len = nv.len();
            if t_len == 0 {
                continue;
            }
            let n_out = (nv[t_len - 1] - mu_o) / (sd_o + p.eps);
            if fb {
                nv.fill(n_out);
                adv.traj_mut(i).fill(n_out);
                clip.traj_mut(i).fill(answer_clip(n_out));
                continue;
            }
            nv[t_len - 1] = n_out;
            for (t, x) in nv[..t_len - 1].iter_mut().enumerate() {
                let (mu, sd, _) = stats.get(t);
                *x = (*x - mu) / (sd + p.eps);
            }
            let nv = n.traj(i);
            let a = adv.traj_mut(i);
            let mut acc = 0.0;
            for t in (0..t_len).rev() {
                acc = nv[t] + p.gamma * acc;
                a[t] = acc / ((t_len - t) as f64).sqrt();
            }
            let c = clip.traj_mut(i);
            for t in 0..t_len - 1 {
                c[t] = coef(nv[t]);
            }
            c[t_len - 1] = answer_clip(n_out);
        }
    }
    if needed > 0 && usable == 0 {
        if let Some(e) = missing_gold_logprob("a2tgpo", batch) {
            return Err(e);
        }
    }
    Ok(A2tgpoOutput {
        advantages: adv,
        clip_eps: clip,
        normalized: n,
    })
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "info_gain_type",
        kind: ParamKind::Choice(&["prob_diff", "log_prob_diff"]),
        default: D::Str("prob_diff"),
        doc: "IG as in IGPO (ASSUMPTION: prob_diff)",
    },
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "γ of the accumulation (ASSUMPTION: 1, as IGPO)",
    },
    ParamSpec {
        name: "beta",
        kind: ParamKind::Float,
        default: D::Float(0.3),
        doc: "β: strength of the adaptive clip, c = 1 + β(2σ(n) − 1) (SECONDARY)",
    },
    ParamSpec {
        name: "clip_eps",
        kind: ParamKind::Float,
        default: D::Float(0.2),
        doc: "base PPO clip range ε (verl default)",
    },
    EPS_PARAM,
    ParamSpec {
        name: "answer_turn_clip",
        kind: ParamKind::Choice(&["neutral", "adaptive"]),
        default: D::Str("neutral"),
        doc: "answer turn keeps clip_eps (ASSUMPTION) or is adapted like IG turns",
    },
];

/// `a2tgpo`: registry adapter of [`a2tgpo_advantages`].
pub struct A2tgpo;

impl Estimator for A2tgpo {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "a2tgpo",
            paper: "A²TGPO, Agentic Turn-Group PO with Adaptive Turn-level Clipping (arXiv 2605.06200)",
            idea: "IGPO's information gain normalised per (prompt, turn index), sum rescaled by √#terms, per-turn clip range.",
            fields: &["outcome", "truncated", "gold_logprob_initial", "gold_logprob"],
            params: PARAMS,
            status: Status::Assumption(
                "no code: outcome normalised per prompt group, std_igpo, prob_diff IG, neutral answer-turn clip, IGPO fallback",
            ),
            output: "advantages (+ clip_eps per turn)",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let params = A2tgpoParams {
            info_gain_type: InfoGainType::from_name(p.str("info_gain_type")),
            gamma: p.f64("gamma"),
            beta: p.f64("beta"),
            clip_eps: p.f64("clip_eps"),
            eps: p.f64("eps"),
            adaptive_answer_clip: p.str("answer_turn_clip") == "adaptive",
        };
        let o = a2tgpo_advantages(batch, &params)?;
        Ok(CreditOutput::per_turn(o.advantages)
            .with_extra("clip_eps", Extra::PerTurn(o.clip_eps))
            .with_extra("normalized", Extra::PerTurn(o.normalized)))
    }
}
