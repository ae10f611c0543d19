//! GRPO (Shao et al., DeepSeekMath, arXiv 2402.03300) and Dr. GRPO (Liu et al.,
//! "Understanding R1-Zero-like training", arXiv 2503.20783), `credit-outcome.md` §1.
//!
//! `A_i = (R_i − μ_g)/(σ_g + ε)` (GRPO) or `A_i = R_i − μ_g` (Dr. GRPO), broadcast to every
//! turn of trajectory i. σ is the unbiased std; a group of one uses μ = 0, σ = 1 (verl);
//! `std_mode = "batch"` divides by the std of all outcomes of the batch instead.

use turnwise_core::{Batch, Group};

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::moments::Moments;
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params, EPS_PARAM};
use crate::stats::EPS;

use super::common::{broadcast_per_group, group_moments, outcomes_into};

/// The outcomes `R_i` of a group; a missing outcome is an error naming the trajectory.
pub fn outcomes(method: &'static str, g: &Group) -> Result<Vec<f64>, CreditError> {
    g.trajectories
        .iter()
        .map(|t| {
            t.outcome
                .ok_or_else(|| CreditError::missing_traj(method, "outcome", &t.id))
        })
        .collect()
}

/// How GRPO scales the centred outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StdMode {
    /// Divide by the group's unbiased std + ε (GRPO, eq. in §1).
    Group,
    /// No division (Dr. GRPO).
    None,
    /// Divide by the unbiased std of all outcomes of the batch + ε (REINFORCE++-baseline style
    /// "batch-std" GRPO).
    Batch,
}

/// GRPO outcome advantage, `credit-outcome.md` §1: `A_i = (R_i − μ_g)/(σ_g + ε)`,
/// broadcast to every turn. Writes one value per turn in batch order. Statistics are
/// overflow-safe ([`Moments`]).
pub fn grpo_advantages(batch: &Batch, eps: f64, mode: StdMode) -> Result<TurnValues, CreditError> {
    let method = if mode == StdMode::None {
        "dr_grpo"
    } else {
        "grpo"
    };
    let batch_m = if mode == StdMode::Batch {
        let all: Vec<f64> = batch
            .groups
            .iter()
            .map(|g| outcomes(method, g))
            .collect::<Result<Vec<_>, _>>()?
            .concat();
        let m = Moments::of(&all);
        Some(if m.std.is_nan() {
            Moments { std: m.scale, ..m }
        } else {
            m
        })
    } else {
        None
    };
    let mut rs = Vec::new();
    broadcast_per_group(batch, |g, out| {
        outcomes_into(method, g, &mut rs)?;
        let m = group_moments(&rs);
        for (o, &r) in out.iter_mut().zip(&rs) {
            *o = match (mode, &batch_m) {
                (StdMode::Group, _) => m.norm(r, eps),
                (StdMode::None, _) => m.center(r),
                // centred by the group mean, divided by the batch std
                (StdMode::Batch, Some(b)) => m.center(r) * b.scale / (b.std + eps * b.scale),
                (StdMode::Batch, None) => unreachable!("batch moments computed above"),
            };
        }
        Ok(())
    })
}

static GRPO_PARAMS: &[ParamSpec] = &[
    EPS_PARAM,
    ParamSpec {
        name: "norm_by_std",
        kind: ParamKind::Bool,
        default: D::Bool(true),
        doc: "divide by the std (false = Dr. GRPO)",
    },
    ParamSpec {
        name: "std_mode",
        kind: ParamKind::Choice(&["group", "batch"]),
        default: D::Str("group"),
        doc: "std of the group (GRPO) or of the whole batch",
    },
];

/// `grpo`: GRPO outcome advantages (registry adapter of [`grpo_advantages`]).
pub struct Grpo;

impl Estimator for Grpo {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "grpo",
            paper: "DeepSeekMath, GRPO (arXiv 2402.03300)",
            idea: "Outcome minus the group mean, over the group std; every turn gets its trajectory's value.",
            fields: &["outcome"],
            params: GRPO_PARAMS,
            status: Status::Exact("verl compute_grpo_outcome_advantage"),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let mode = match (p.bool("norm_by_std"), p.str("std_mode")) {
            (false, _) => StdMode::None,
            (true, "batch") => StdMode::Batch,
            _ => StdMode::Group,
        };
        grpo_advantages(batch, p.f64("eps"), mode).map(CreditOutput::per_turn)
    }
}

/// `dr_grpo`: Dr. GRPO, `A_i = R_i − μ_g` (no std division).
pub struct DrGrpo;

impl Estimator for DrGrpo {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "dr_grpo",
            paper: "Dr. GRPO, Understanding R1-Zero-like Training (arXiv 2503.20783)",
            idea: "GRPO without the std division (unbiased); every turn gets R_i − mean.",
            fields: &["outcome"],
            params: &[],
            status: Status::Exact(
                "verl compute_grpo_outcome_advantage(norm_adv_by_std_in_grpo=False)",
            ),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, _: &Params) -> Result<CreditOutput, CreditError> {
        grpo_advantages(batch, EPS, StdMode::None).map(CreditOutput::per_turn)
    }
}
