//! A batch as flat columns: the layout the Python package takes from NumPy (one value per
//! trajectory, trajectory offsets into the turns, groups as lists of trajectory indices),
//! for methods that can run on it without building a [`turnwise_core::Batch`]
//! ([`crate::Estimator::compute_columns`]). Trajectories keep the caller's order; a
//! trajectory's id in error messages is its index in that order.

use crate::error::CreditError;
use crate::output::TurnValues;

/// Flat columns of a batch, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    /// `traj_offsets[i]..traj_offsets[i + 1]` are the turns of trajectory `i`
    /// (`len = trajectories + 1`, starting at 0, non-decreasing).
    pub traj_offsets: &'a [usize],
    /// `members[group_offsets[g]..group_offsets[g + 1]]` are the trajectories of group `g`
    /// (`len = groups + 1`).
    pub group_offsets: &'a [usize],
    /// Trajectory indices, group after group: a permutation of `0..trajectories`.
    pub members: &'a [usize],
    /// R_i, the outcome of trajectory `i`, when given.
    pub outcome: Option<&'a [f64]>,
}

impl Columns<'_> {
    /// Number of trajectories.
    pub fn num_trajectories(&self) -> usize {
        self.traj_offsets.len() - 1
    }

    /// Number of turns.
    pub fn num_turns(&self) -> usize {
        self.traj_offsets[self.num_trajectories()]
    }

    /// Number of groups.
    pub fn num_groups(&self) -> usize {
        self.group_offsets.len() - 1
    }

    /// The trajectories of group `g`.
    pub fn group(&self, g: usize) -> &[usize] {
        &self.members[self.group_offsets[g]..self.group_offsets[g + 1]]
    }

    /// The outcomes, or the error naming `method` and the first trajectory.
    pub fn outcomes(&self, method: &'static str) -> Result<&[f64], CreditError> {
        self.outcome.ok_or_else(|| {
            let first = self.members.first().copied().unwrap_or(0);
            CreditError::missing_traj(method, "outcome", &first.to_string())
        })
    }

    /// The outcomes of group `g` into `buf` (cleared first), in member order.
    pub fn group_outcomes_into(&self, outcome: &[f64], g: usize, buf: &mut Vec<f64>) {
        buf.clear();
        buf.extend(self.group(g).iter().map(|&i| outcome[i]));
    }

    /// Broadcasts one value per trajectory to each of its turns, in the caller's order.
    pub fn broadcast(&self, per_traj: &[f64]) -> TurnValues {
        let mut values = Vec::with_capacity(self.num_turns());
        for (i, &a) in per_traj.iter().enumerate() {
            let n = self.traj_offsets[i + 1] - self.traj_offsets[i];
            values.extend(std::iter::repeat_n(a, n));
        }
        TurnValues {
            values,
            offsets: self.traj_offsets.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use crate::registry;
    use serde_json::json;

    /// Every method with a columnar kernel gives the batch path's values, with the
    /// trajectories given in an order that interleaves the groups.
    #[test]
    fn columnar_kernels_match_the_batch_path() {
        let batch = crate::bench::outcome::synthetic_batch(0.002, false);
        // caller order: trajectory j of every group, then j + 1, …
        let trajs: Vec<_> = batch.trajectories().collect();
        let size = batch.groups[0].trajectories.len();
        let order: Vec<usize> = (0..size)
            .flat_map(|j| (0..batch.groups.len()).map(move |g| g * size + j))
            .collect();
        let mut traj_offsets = vec![0];
        let mut outcome = Vec::new();
        for &k in &order {
            traj_offsets.push(traj_offsets.last().unwrap() + trajs[k].turns.len());
            outcome.push(trajs[k].outcome.unwrap());
        }
        let mut position = vec![0; order.len()];
        for (i, &k) in order.iter().enumerate() {
            position[k] = i;
        }
        let members: Vec<usize> = (0..order.len()).map(|k| position[k]).collect();
        let group_offsets: Vec<usize> = (0..=batch.groups.len()).map(|g| g * size).collect();
        let cols = Columns {
            traj_offsets: &traj_offsets,
            group_offsets: &group_offsets,
            members: &members,
            outcome: Some(&outcome),
        };
        let settings = [
            ("grpo", json!({})),
            ("grpo", json!({"std_mode": "batch"})),
            ("grpo", json!({"norm_by_std": false})),
            ("dr_grpo", json!({})),
        ];
        let mut kernels = 0;
        for m in registry::all() {
            let name = m.info().name;
            for (_, p) in settings.iter().filter(|(n, _)| *n == name) {
                let p =
                    Params::resolve(name, m.info().params, p.as_object().unwrap(), &[]).unwrap();
                let Some(got) = m.compute_columns(&cols, &p) else {
                    continue;
                };
                kernels += 1;
                let want = m.compute(&batch, &p).unwrap();
                let (got, want) = (got.unwrap(), want.turn_values().unwrap().clone());
                let got = got.turn_values().unwrap();
                for (i, &k) in order.iter().enumerate() {
                    assert_eq!(got.traj(i), want.traj(k), "{name} trajectory {i}");
                }
            }
        }
        assert_eq!(kernels, settings.len());
    }

    /// Without outcomes the error names the method, the field and the first trajectory.
    #[test]
    fn missing_outcome_names_the_trajectory() {
        let cols = Columns {
            traj_offsets: &[0, 2, 3],
            group_offsets: &[0, 2],
            members: &[1, 0],
            outcome: None,
        };
        let m = registry::get("grpo").unwrap();
        let p = Params::defaults(m.info().params);
        let err = m.compute_columns(&cols, &p).unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "method grpo needs field `outcome`, missing at trajectory \"1\""
        );
    }
}
