//! GRPO (Shao et al., DeepSeekMath, arXiv 2402.03300) and Dr. GRPO (Liu et al.,
//! "Understanding R1-Zero-like training", arXiv 2503.20783), `credit-outcome.md` §1.
//!
//! `A_i = (R_i − μ_g)/(σ_g + ε)` (GRPO) or `A_i = R_i − μ_g` (Dr. GRPO), broadcast to every
//! turn of trajectory i. σ is the unbiased std; a group of one uses μ = 0, σ = 1 (verl);
//! `std_mode = "batch"` divides by the std of all outcomes of the batch instead.

use turnwise_core::{Batch, Group};

use crate::columns::Columns;
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

/// GRPO's rule for one outcome, given its group's moments (and, for
/// [`StdMode::Batch`], the moments of every outcome of the batch).
#[derive(Debug, Clone, Copy)]
struct Rule {
    mode: StdMode,
    eps: f64,
    batch: Option<Moments>,
}

impl Rule {
    /// The rule; `all` yields every outcome of the batch (read only in batch mode).
    fn new(
        mode: StdMode,
        eps: f64,
        all: impl FnOnce() -> Result<Vec<f64>, CreditError>,
    ) -> Result<Rule, CreditError> {
        let batch = if mode == StdMode::Batch {
            let m = Moments::of(&all()?);
            Some(if m.std.is_nan() {
                Moments { std: m.scale, ..m }
            } else {
                m
            })
        } else {
            None
        };
        Ok(Rule { mode, eps, batch })
    }

    /// The advantage of outcome `r` in a group with moments `m`.
    #[inline]
    fn value(&self, m: &Moments, r: f64) -> f64 {
        match (self.mode, &self.batch) {
            (StdMode::Group, _) => m.norm(r, self.eps),
            (StdMode::None, _) => m.center(r),
            // centred by the group mean, divided by the batch std
            (StdMode::Batch, Some(b)) => m.center(r) * b.scale / (b.std + self.eps * b.scale),
            (StdMode::Batch, None) => unreachable!("batch moments computed in Rule::new"),
        }
    }
}

fn method_name(mode: StdMode) -> &'static str {
    if mode == StdMode::None {
        "dr_grpo"
    } else {
        "grpo"
    }
}

/// GRPO outcome advantage, `credit-outcome.md` §1: `A_i = (R_i − μ_g)/(σ_g + ε)`,
/// broadcast to every turn. Writes one value per turn in batch order. Statistics are
/// overflow-safe ([`Moments`]).
pub fn grpo_advantages(batch: &Batch, eps: f64, mode: StdMode) -> Result<TurnValues, CreditError> {
    let method = method_name(mode);
    let rule = Rule::new(mode, eps, || {
        Ok(batch
            .groups
            .iter()
            .map(|g| outcomes(method, g))
            .collect::<Result<Vec<_>, _>>()?
            .concat())
    })?;
    let mut rs = Vec::new();
    broadcast_per_group(batch, |g, out| {
        outcomes_into(method, g, &mut rs)?;
        let m = group_moments(&rs);
        for (o, &r) in out.iter_mut().zip(&rs) {
            *o = rule.value(&m, r);
        }
        Ok(())
    })
}

/// [`grpo_advantages`] on flat [`Columns`]: one value per turn in the caller's trajectory
/// order, equal to the batch path's values for the same groups.
pub fn grpo_columns(
    cols: &Columns<'_>,
    eps: f64,
    mode: StdMode,
) -> Result<TurnValues, CreditError> {
    let outcome = cols.outcomes(method_name(mode))?;
    let rule = Rule::new(mode, eps, || {
        Ok(cols.members.iter().map(|&i| outcome[i]).collect())
    })?;
    let mut per_traj = vec![0.0; cols.num_trajectories()];
    let mut rs = Vec::new();
    for g in 0..cols.num_groups() {
        cols.group_outcomes_into(outcome, g, &mut rs);
        let m = group_moments(&rs);
        for (&i, &r) in cols.group(g).iter().zip(&rs) {
            per_traj[i] = rule.value(&m, r);
        }
    }
    Ok(cols.broadcast(&per_traj))
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
        grpo_advantages(batch, p.f64("eps"), grpo_mode(p)).map(CreditOutput::per_turn)
    }

    fn compute_columns(
        &self,
        cols: &Columns<'_>,
        p: &Params,
    ) -> Option<Result<CreditOutput, CreditError>> {
        Some(grpo_columns(cols, p.f64("eps"), grpo_mode(p)).map(CreditOutput::per_turn))
    }
}

/// The [`StdMode`] selected by `grpo`'s parameters.
fn grpo_mode(p: &Params) -> StdMode {
    match (p.bool("norm_by_std"), p.str("std_mode")) {
        (false, _) => StdMode::None,
        (true, "batch") => StdMode::Batch,
        _ => StdMode::Group,
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

    fn compute_columns(
        &self,
        cols: &Columns<'_>,
        _: &Params,
    ) -> Option<Result<CreditOutput, CreditError>> {
        Some(grpo_columns(cols, EPS, StdMode::None).map(CreditOutput::per_turn))
    }
}
