//! IGPO — Information Gain-based Policy Optimization (Wang et al., arXiv 2510.14967,
//! ICLR 2026), `credit-turn.md` §1. Exact port of `GuoqingWang1/IGPO` (Feb-2026 update,
//! `verl/trainer/ppo/core_algos.py`).
//!
//! Turn reward `r_t = f(ℓ(t)) − f(ℓ(t−1))` for `t < T−1` (information gain of the gold
//! answer, `f = exp` for `prob_diff`, identity for `log_prob_diff`), `r_{T−1} = R`;
//! z-normalised inside the prompt group (one `joint` pool, or `separate` IG / outcome
//! pools, `std_igpo`), then `A_t = n_t + γ A_{t+1}`. Truncated trajectories and missing or
//! non-finite log-probs fall back to outcome-only (every turn gets `n_out`); a batch in
//! which no trajectory carries any gold log-prob is a `MissingField` error.

use turnwise_core::{Batch, Trajectory};

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, Extra, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params, EPS_PARAM};
use crate::stats::{mean, std_igpo};
use crate::turn::prefetch;

/// How an information gain is measured (`info_gain_type`, §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoGainType {
    /// `exp(ℓ(t)) − exp(ℓ(t−1))`: change of the (geometric-mean) probability (paper).
    ProbDiff,
    /// `ℓ(t) − ℓ(t−1)`: change of the mean log-probability (Feb-2026 `train.sh`).
    LogProbDiff,
}

impl InfoGainType {
    /// Parses the `info_gain_type` parameter.
    pub fn from_name(s: &str) -> Self {
        if s == "log_prob_diff" {
            InfoGainType::LogProbDiff
        } else {
            InfoGainType::ProbDiff
        }
    }

    #[inline]
    fn f(self, lp: f64) -> f64 {
        match self {
            InfoGainType::ProbDiff => lp.exp(),
            InfoGainType::LogProbDiff => lp,
        }
    }
}

/// Which rewards share one normalisation pool (`norm_mode`, §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormMode {
    /// One pool with every reward of the group (code default, paper).
    Joint,
    /// IG rewards and final-turn (outcome) rewards in separate pools (Feb-2026 `train.sh`).
    Separate,
}

/// IGPO's parameters (names as in the reference `igpo`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IgpoParams {
    /// `info_gain_type`.
    pub info_gain_type: InfoGainType,
    /// `norm_mode`.
    pub norm_mode: NormMode,
    /// γ of the backward accumulation over turns.
    pub gamma: f64,
    /// Divide by the std (otherwise only centre).
    pub norm_by_std: bool,
    /// ε added to the std.
    pub eps: f64,
    /// Curriculum weight of the outcome reward.
    pub w_outcome: f64,
    /// Curriculum weight of the IG rewards.
    pub w_ig: f64,
}

/// The gold-answer log-prob of a slot: the first reference (IGPO scores the first gold
/// alternative, §1 "Inputs"); `None` when absent, empty or non-finite.
#[inline]
pub(crate) fn first_finite(v: Option<&Vec<f64>>) -> Option<f64> {
    v.and_then(|v| v.first().copied()).filter(|x| x.is_finite())
}

/// Raw IGPO turn rewards of one trajectory (§1 "Formulas"), written into `r` (one slot per
/// turn): IG for `t < T−1`, the outcome on the final turn. Returns `true` for the
/// outcome-only fallback (truncated, or a needed log-prob missing / non-finite); then `r`
/// holds zeros and the outcome last, as the code places it on the last token.
pub fn info_gain_rewards(
    method: &'static str,
    traj: &Trajectory,
    ig: InfoGainType,
    r: &mut [f64],
) -> Result<bool, CreditError> {
    let outcome = traj
        .outcome
        .ok_or_else(|| CreditError::missing_traj(method, "outcome", &traj.id))?;
    let t_len = r.len();
    let Some(last) = r.last_mut() else {
        return Ok(false);
    };
    *last = outcome;
    if t_len == 1 {
        return Ok(false);
    }
    let fallback = |r: &mut [f64]| {
        r[..t_len - 1].fill(0.0);
        Ok(true)
    };
    if traj.truncated {
        return fallback(r);
    }
    let Some(mut prev) = first_finite(traj.ext().gold_logprob_initial.as_ref()) else {
        return fallback(r);
    };
    prev = ig.f(prev);
    for (slot, turn) in r[..t_len - 1].iter_mut().zip(&traj.turns) {
        let Some(lp) = first_finite(turn.ext().gold_logprob.as_ref()) else {
            return fallback(r);
        };
        let cur = ig.f(lp);
        *slot = cur - prev;
        prev = cur;
    }
    Ok(false)
}

/// The error for a batch in which the gold log-probs were never computed: some
/// trajectory needs them (several turns, not truncated) and none of those carries a
/// `gold_logprob_initial` or any `gold_logprob`. A value missing here and there is not an
/// error but the spec's per-trajectory fallback (§1 "Edge cases").
pub(crate) fn missing_gold_logprob(method: &'static str, batch: &Batch) -> Option<CreditError> {
    let needing = || {
        batch
            .trajectories()
            .filter(|t| t.turns.len() > 1 && !t.truncated)
    };
    let first = needing().next()?;
    let any_present = needing().any(|t| {
        t.ext().gold_logprob_initial.is_some()
            || t.turns.iter().any(|u| u.ext().gold_logprob.is_some())
    });
    (!any_present).then(|| CreditError::missing_traj(method, "gold_logprob_initial", &first.id))
}

/// IGPO advantages (§1): returns `(advantages, turn_rewards)`, one value per turn in batch
/// order. `turn_rewards` are the weighted raw rewards (`[0, …, 0, R]` on fallback).
pub fn igpo_advantages(
    batch: &Batch,
    p: &IgpoParams,
) -> Result<(TurnValues, TurnValues), CreditError> {
    let mut rew = TurnValues::zeros(batch);
    let mut adv = TurnValues::zeros_like(&rew);
    let mut fallback: Vec<bool> = Vec::new();
    let mut pool_a: Vec<f64> = Vec::new();
    let mut pool_b: Vec<f64> = Vec::new();
    let (mut needed, mut usable) = (0usize, 0usize);
    let mut ahead = prefetch::Lookahead::new(&batch.groups, prefetch::GOLD_LOGPROB);
    let mut ti = 0;
    for g in &batch.groups {
        let first = ti;
        fallback.clear();
        for traj in &g.trajectories {
            ahead.step();
            let r = rew.traj_mut(ti);
            let fb = info_gain_rewards("igpo", traj, p.info_gain_type, r)?;
            if let Some((last, igs)) = r.split_last_mut() {
                *last *= p.w_outcome;
                igs.iter_mut().for_each(|x| *x *= p.w_ig);
            }
            if traj.turns.len() > 1 && !traj.truncated {
                needed += 1;
                usable += usize::from(!fb);
            }
            fallback.push(fb);
            ti += 1;
        }
        // Pools: `pool_a` is the joint pool or the IG pool, `pool_b` the outcome pool.
        pool_a.clear();
        pool_b.clear();
        for (k, &fb) in fallback.iter().enumerate() {
            let r = rew.traj(first + k);
            let Some((&last, igs)) = r.split_last() else {
                continue;
            };
            if !fb {
                pool_a.extend_from_slice(igs);
            }
            match p.norm_mode {
                NormMode::Joint => pool_a.push(last),
                NormMode::Separate => pool_b.push(last),
            }
        }
        let stats = |pool: &[f64]| {
            if pool.is_empty() {
                (0.0, 1.0)
            } else {
                (mean(pool), std_igpo(pool))
            }
        };
        let (mu_a, sd_a) = stats(&pool_a);
        let (mu_b, sd_b) = match p.norm_mode {
            NormMode::Joint => (mu_a, sd_a),
            NormMode::Separate => stats(&pool_b),
        };
        let norm = |x: f64, mu: f64, sd: f64| {
            if p.norm_by_std {
                (x - mu) / (sd + p.eps)
            } else {
                x - mu
            }
        };
        for (k, &fb) in fallback.iter().enumerate() {
            let r = rew.traj(first + k);
            let a = adv.traj_mut(first + k);
            let Some(&last) = r.last() else { continue };
            let n_out = norm(last, mu_b, sd_b);
            if fb {
                a.fill(n_out);
                continue;
            }
            let mut acc = n_out;
            let t_len = r.len();
            a[t_len - 1] = acc;
            for t in (0..t_len - 1).rev() {
                acc = norm(r[t], mu_a, sd_a) + p.gamma * acc;
                a[t] = acc;
            }
        }
    }
    if needed > 0 && usable == 0 {
        if let Some(e) = missing_gold_logprob("igpo", batch) {
            return Err(e);
        }
    }
    Ok((adv, rew))
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "info_gain_type",
        kind: ParamKind::Choice(&["prob_diff", "log_prob_diff"]),
        default: D::Str("prob_diff"),
        doc: "IG as a probability difference (paper) or a log-prob difference (Feb-2026 train.sh)",
    },
    ParamSpec {
        name: "norm_mode",
        kind: ParamKind::Choice(&["joint", "separate"]),
        default: D::Str("joint"),
        doc: "one pool for all turn rewards of the group, or separate IG / outcome pools",
    },
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "γ: discount of the backward accumulation over turns",
    },
    ParamSpec {
        name: "norm_by_std",
        kind: ParamKind::Bool,
        default: D::Bool(true),
        doc: "divide by std_igpo (false: only centre)",
    },
    EPS_PARAM,
    ParamSpec {
        name: "w_outcome",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "curriculum weight of the outcome reward",
    },
    ParamSpec {
        name: "w_ig",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "curriculum weight of the information-gain rewards",
    },
];

/// `igpo`: registry adapter of [`igpo_advantages`].
pub struct Igpo;

impl Estimator for Igpo {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "igpo",
            paper: "IGPO, Information Gain-based Policy Optimization (arXiv 2510.14967)",
            idea: "Turn reward = gain in the policy's probability of the gold answer; group z-norm; reward-to-go over turns.",
            fields: &["outcome", "truncated", "gold_logprob_initial", "gold_logprob"],
            params: PARAMS,
            status: Status::Exact("GuoqingWang1/IGPO verl/trainer/ppo/core_algos.py (Feb-2026)"),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let params = IgpoParams {
            info_gain_type: InfoGainType::from_name(p.str("info_gain_type")),
            norm_mode: if p.str("norm_mode") == "separate" {
                NormMode::Separate
            } else {
                NormMode::Joint
            },
            gamma: p.f64("gamma"),
            norm_by_std: p.bool("norm_by_std"),
            eps: p.f64("eps"),
            w_outcome: p.f64("w_outcome"),
            w_ig: p.f64("w_ig"),
        };
        let (adv, rew) = igpo_advantages(batch, &params)?;
        Ok(CreditOutput::per_turn(adv).with_extra("turn_rewards", Extra::PerTurn(rew)))
    }
}
