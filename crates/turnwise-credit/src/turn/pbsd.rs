//! PBSD — Privileged Bayesian Self-Distillation (Tian et al., arXiv 2606.09348),
//! `credit-turn.md` §4. Only the turn signal is from the paper (abstract); how it is
//! combined with the outcome advantage is the spec's ASSUMPTION. No code was published.
//!
//! `s_{i,t} = teacher_logprob − student_logprob` (the turn's log-likelihood ratio between
//! the answer-conditioned teacher and the student; `Σ_t s` is the Bayes evidence).
//! `A_i` = GRPO z-score of the outcome (unbiased std; group of one: mean 0, std 1).
//! `multiplicative`: `A_{i,t} = A_i · 2σ(κ · sign(A_i) · s_{i,t})`;
//! `additive`: `A_{i,t} = A_i + β · clip(s_{i,t}, −c, c)`.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::outcome::grpo::outcomes;
use crate::output::{CreditOutput, Extra, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params, EPS_PARAM};
use crate::stats::{mean, std_unbiased};

/// How the turn signal reweights the outcome advantage (both ASSUMPTION).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PbsdMode {
    /// `A · 2σ(κ · sign(A) · s)`: weight in (0, 2) (reference default).
    Multiplicative {
        /// κ: sharpness.
        kappa: f64,
    },
    /// `A + β · clip(s, −c, c)`.
    Additive {
        /// β: weight of the signal.
        beta: f64,
        /// c: clip bound of the signal.
        clip_s: f64,
    },
}

/// Result of [`pbsd_advantages`].
#[derive(Debug, Clone, PartialEq)]
pub struct PbsdOutput {
    /// `A_{i,t}`, per turn.
    pub advantages: TurnValues,
    /// `s_{i,t}`, per turn.
    pub turn_signal: TurnValues,
    /// `E_i = Σ_t s_{i,t}`, per trajectory.
    pub evidence: Vec<f64>,
}

/// `σ(x) = 1/(1 + e^{−x})`, stable for large |x|.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// PBSD advantages (§4). `teacher_logprob` / `student_logprob` are required on every turn.
pub fn pbsd_advantages(batch: &Batch, mode: PbsdMode, eps: f64) -> Result<PbsdOutput, CreditError> {
    let mut adv = TurnValues::zeros(batch);
    let mut sig = TurnValues::zeros_like(&adv);
    let mut evidence = Vec::with_capacity(batch.num_trajectories());
    let mut ti = 0;
    for g in &batch.groups {
        let outs = outcomes("pbsd", g)?;
        let (mu, sd) = if outs.len() > 1 {
            (mean(&outs), std_unbiased(&outs))
        } else {
            (0.0, 1.0)
        };
        for (traj, &r) in g.trajectories.iter().zip(&outs) {
            let a_i = (r - mu) / (sd + eps);
            let s = sig.traj_mut(ti);
            for (k, (slot, turn)) in s.iter_mut().zip(&traj.turns).enumerate() {
                let e = turn.ext();
                let teacher = e.teacher_logprob.ok_or_else(|| {
                    CreditError::missing_turn("pbsd", "teacher_logprob", &traj.id, k)
                })?;
                let student = e.student_logprob.ok_or_else(|| {
                    CreditError::missing_turn("pbsd", "student_logprob", &traj.id, k)
                })?;
                *slot = teacher - student;
            }
            evidence.push(s.iter().sum());
            let sgn = if a_i > 0.0 {
                1.0
            } else if a_i < 0.0 {
                -1.0
            } else {
                0.0
            };
            let s = sig.traj(ti);
            for (a, &st) in adv.traj_mut(ti).iter_mut().zip(s) {
                *a = match mode {
                    PbsdMode::Multiplicative { kappa } => a_i * 2.0 * sigmoid(kappa * sgn * st),
                    PbsdMode::Additive { beta, clip_s } => a_i + beta * st.clamp(-clip_s, clip_s),
                };
            }
            ti += 1;
        }
    }
    Ok(PbsdOutput {
        advantages: adv,
        turn_signal: sig,
        evidence,
    })
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "mode",
        kind: ParamKind::Choice(&["multiplicative", "additive"]),
        default: D::Str("multiplicative"),
        doc: "how the turn signal reweights the outcome advantage (ASSUMPTION)",
    },
    ParamSpec {
        name: "kappa",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "κ: sharpness of the multiplicative weight 2σ(κ·sign(A)·s)",
    },
    ParamSpec {
        name: "beta",
        kind: ParamKind::Float,
        default: D::Float(0.1),
        doc: "β: weight of the clipped signal in the additive mode",
    },
    ParamSpec {
        name: "clip_s",
        kind: ParamKind::Float,
        default: D::Float(5.0),
        doc: "c: clip bound of the signal in the additive mode",
    },
    EPS_PARAM,
];

/// `pbsd`: registry adapter of [`pbsd_advantages`].
pub struct Pbsd;

impl Estimator for Pbsd {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "pbsd",
            paper: "PBSD, Privileged Bayesian Self-Distillation (arXiv 2606.09348)",
            idea: "Turn signal = log-ratio of the answer-conditioned teacher to the student; reweights the GRPO outcome advantage per turn.",
            fields: &["outcome", "teacher_logprob", "student_logprob"],
            params: PARAMS,
            status: Status::Assumption(
                "no code: GRPO outcome advantage reweighted by 2σ(κ·sign(A)·s) (or A + β·clip(s)); only the signal is from the abstract",
            ),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let mode = if p.str("mode") == "additive" {
            PbsdMode::Additive {
                beta: p.f64("beta"),
                clip_s: p.f64("clip_s"),
            }
        } else {
            PbsdMode::Multiplicative {
                kappa: p.f64("kappa"),
            }
        };
        let o = pbsd_advantages(batch, mode, p.f64("eps"))?;
        Ok(CreditOutput::per_turn(o.advantages)
            .with_extra("turn_signal", Extra::PerTurn(o.turn_signal))
            .with_extra("evidence", Extra::PerTrajectory(o.evidence)))
    }
}
