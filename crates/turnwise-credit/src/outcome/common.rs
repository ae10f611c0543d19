//! Field access and small loops shared by the outcome-level estimators. Every accessor
//! turns a missing input into [`CreditError::MissingField`] naming the field, the method
//! and the trajectory / turn, never a silent zero.

use turnwise_core::{Group, Trajectory};

use crate::error::CreditError;
use crate::moments::Moments;
use crate::output::TurnValues;

/// R_i, the trajectory's outcome.
#[inline]
pub fn outcome(method: &'static str, t: &Trajectory) -> Result<f64, CreditError> {
    t.outcome
        .ok_or_else(|| CreditError::missing_traj(method, "outcome", &t.id))
}

/// r_{i,k}, the reward of turn `k`.
#[inline]
pub fn reward(method: &'static str, t: &Trajectory, k: usize) -> Result<f64, CreditError> {
    t.turns[k]
        .reward
        .ok_or_else(|| CreditError::missing_turn(method, "reward", &t.id, k))
}

/// s_{i,k}, the score of turn `k`.
#[inline]
pub fn score(method: &'static str, t: &Trajectory, k: usize) -> Result<f64, CreditError> {
    t.turns[k]
        .score
        .ok_or_else(|| CreditError::missing_turn(method, "score", &t.id, k))
}

/// The outcomes of a group, into `buf` (cleared first).
pub fn outcomes_into(
    method: &'static str,
    g: &Group,
    buf: &mut Vec<f64>,
) -> Result<(), CreditError> {
    buf.clear();
    for t in &g.trajectories {
        buf.push(outcome(method, t)?);
    }
    Ok(())
}

/// Discounted per-turn returns `G_t = r_t + γ G_{t+1}` of `t`, written into `out`
/// (one value per turn). Returns the largest |G_t|. The turns are read front to back (one
/// forward stream over the turn structs, which hardware prefetchers follow), the returns
/// accumulated backwards over `out`.
#[inline]
pub fn returns_into(
    method: &'static str,
    t: &Trajectory,
    gamma: f64,
    out: &mut [f64],
) -> Result<f64, CreditError> {
    for (k, (o, turn)) in out.iter_mut().zip(&t.turns).enumerate() {
        *o = turn
            .reward
            .ok_or_else(|| CreditError::missing_turn(method, "reward", &t.id, k))?;
    }
    Ok(accumulate_returns(gamma, out))
}

/// Turns rewards into discounted returns in place, backwards; returns the largest |G_t|.
#[inline]
pub fn accumulate_returns(gamma: f64, x: &mut [f64]) -> f64 {
    let mut run = 0.0;
    let mut max_abs = 0.0f64;
    for v in x.iter_mut().rev() {
        run = *v + gamma * run;
        *v = run;
        max_abs = max_abs.max(run.abs());
    }
    max_abs
}

/// GRPO-style group statistics with verl's rules: a group of one gets mean 0 / std 1.
pub fn group_moments(x: &[f64]) -> Moments {
    if x.len() == 1 {
        Moments::unit()
    } else {
        Moments::of(x)
    }
}

/// One value per trajectory, broadcast to its turns, for every trajectory of the batch:
/// `per_group(group, values)` fills `values` (one slot per trajectory, pre-sized).
pub fn broadcast_per_group<F>(
    batch: &turnwise_core::Batch,
    mut per_group: F,
) -> Result<TurnValues, CreditError>
where
    F: FnMut(&Group, &mut Vec<f64>) -> Result<(), CreditError>,
{
    let mut out = TurnValues::zeros(batch);
    let mut vals = Vec::new();
    let mut i = 0;
    for g in &batch.groups {
        vals.clear();
        vals.resize(g.trajectories.len(), 0.0);
        per_group(g, &mut vals)?;
        for &a in &vals {
            out.traj_mut(i).fill(a);
            i += 1;
        }
    }
    Ok(out)
}

/// The validated value of a parameter that must be strictly positive.
pub fn positive(method: &str, name: &str, x: f64) -> Result<f64, CreditError> {
    if x > 0.0 {
        Ok(x)
    } else {
        Err(CreditError::BadParam {
            method: method.to_owned(),
            param: name.to_owned(),
            message: format!("must be > 0, got {x}"),
        })
    }
}

/// The validated value of a discount or weight that must lie in `[0, 1]`.
pub fn unit_interval(method: &str, name: &str, x: f64) -> Result<f64, CreditError> {
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(CreditError::BadParam {
            method: method.to_owned(),
            param: name.to_owned(),
            message: format!("must lie in [0, 1], got {x}"),
        })
    }
}
