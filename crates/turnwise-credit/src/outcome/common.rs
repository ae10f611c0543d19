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

/// Turns rewards into discounted returns `G_t = r_t + γ G_{t+1}` in place, backwards;
/// returns the largest |G_t|.
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

/// Builds a [`TurnValues`] trajectory by trajectory in batch order, writing each value once
/// (no zero-fill pass over the output).
pub struct TurnValuesBuilder {
    values: Vec<f64>,
    offsets: Vec<usize>,
}

impl TurnValuesBuilder {
    /// An empty builder with room for `batch`.
    pub fn new(batch: &turnwise_core::Batch) -> Self {
        let mut offsets = Vec::with_capacity(batch.num_trajectories() + 1);
        offsets.push(0);
        TurnValuesBuilder {
            values: Vec::with_capacity(batch.num_turns()),
            offsets,
        }
    }

    /// Appends trajectory `t` with `a` on each of its turns.
    #[inline]
    pub fn push_fill(&mut self, a: f64, t: &Trajectory) {
        self.values.extend(std::iter::repeat_n(a, t.turns.len()));
        self.offsets.push(self.values.len());
    }

    /// Appends trajectory `t` with its per-turn rewards; returns them for in-place updates.
    #[inline]
    pub fn push_rewards(
        &mut self,
        method: &'static str,
        t: &Trajectory,
    ) -> Result<&mut [f64], CreditError> {
        let start = self.values.len();
        for (k, turn) in t.turns.iter().enumerate() {
            match turn.reward {
                Some(r) => self.values.push(r),
                None => return Err(CreditError::missing_turn(method, "reward", &t.id, k)),
            }
        }
        self.offsets.push(self.values.len());
        Ok(&mut self.values[start..])
    }

    /// Number of trajectories appended so far.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether nothing was appended yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values of trajectory `i` (already appended).
    #[inline]
    pub fn traj(&self, i: usize) -> &[f64] {
        &self.values[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Mutable values of trajectory `i` (already appended).
    #[inline]
    pub fn traj_mut(&mut self, i: usize) -> &mut [f64] {
        let (a, b) = (self.offsets[i], self.offsets[i + 1]);
        &mut self.values[a..b]
    }

    /// The finished values.
    pub fn finish(self) -> TurnValues {
        TurnValues {
            values: self.values,
            offsets: self.offsets,
        }
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
    let mut out = TurnValuesBuilder::new(batch);
    let mut vals = Vec::new();
    for g in &batch.groups {
        vals.clear();
        vals.resize(g.trajectories.len(), 0.0);
        per_group(g, &mut vals)?;
        for (&a, t) in vals.iter().zip(&g.trajectories) {
            out.push_fill(a, t);
        }
    }
    Ok(out.finish())
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
