//! ExIt, exploratory iteration (Jiang et al. 2025, "Bootstrapping Task Spaces for
//! Self-Improvement"): episodes are restarted from intermediate states of earlier episodes,
//! chosen by the learning signal their group gave, so the task space grows from the
//! agent's own experience. This module holds the prioritised buffer of restart points and
//! the environment wrapper that starts an episode from one.
//!
//! A restart point is taken by replaying a recorded trajectory's first k actions in a
//! fresh environment (every built-in environment is deterministic given its seed) and
//! snapshotting it ([`turnwise_envs::Env::snapshot`]); an episode then starts from
//! [`Env::restore`] with the observation the original saw at turn k.

use std::sync::{Arc, Mutex};

use turnwise_core::seed::Rng;
use turnwise_core::Group;
use turnwise_envs::snapshot::Snapshot;
use turnwise_envs::{Env, Observation};

use super::wrap::{Hook, Wrapped};

/// The learning signal of a group: the population standard deviation of its outcomes
/// (0 for a group whose members all scored the same: no GRPO signal).
pub fn learning_signal(g: &Group) -> f64 {
    let o: Vec<f64> = g
        .trajectories
        .iter()
        .map(|t| t.outcome.unwrap_or_else(|| t.total_reward()))
        .collect();
    if o.len() < 2 {
        return 0.0;
    }
    let m = o.iter().sum::<f64>() / o.len() as f64;
    (o.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / o.len() as f64).sqrt()
}

/// The seed standing for the group restarted in task slot `slot` of RL step `step`: a
/// stream disjoint from the regular task seeds and from dynamic sampling's refills (it
/// names the group; the restored environment ignores it).
pub fn restart_seed(run_seed: u64, step: u64, slot: usize) -> u64 {
    let index = (1u64 << 61) | (step << 20) | slot as u64;
    turnwise_core::seed::task_seed(run_seed, turnwise_core::seed::Split::Train, index)
}

/// One restart point: a saved state and the observation shown there.
#[derive(Clone)]
pub struct Restart {
    /// The environment's state after the prefix.
    pub state: Arc<Mutex<Snapshot>>,
    /// The observation the original episode saw there.
    pub observation: Observation,
    /// The task seed the point descends from (for ids and logs).
    pub root_seed: u64,
    /// Turns played before the point, summed over restarts.
    pub depth: usize,
    /// Priority: the learning signal of the group it came from (or of its last replay).
    pub priority: f64,
}

/// A bounded buffer of restart points, sampled in proportion to priority.
#[derive(Default)]
pub struct Buffer {
    /// The points.
    pub points: Vec<Restart>,
    /// Capacity: when full, a new point replaces the lowest-priority one if it beats it.
    pub capacity: usize,
}

impl Buffer {
    /// An empty buffer of `capacity` points.
    pub fn new(capacity: usize) -> Buffer {
        Buffer {
            points: Vec::new(),
            capacity,
        }
    }

    /// Adds `p` (points of priority 0 carry no signal and are not kept).
    pub fn admit(&mut self, p: Restart) {
        if p.priority <= 0.0 || self.capacity == 0 {
            return;
        }
        if self.points.len() < self.capacity {
            self.points.push(p);
            return;
        }
        let (worst, w) = self
            .points
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.priority.total_cmp(&b.1.priority))
            .map(|(i, r)| (i, r.priority))
            .expect("a full buffer is not empty");
        if p.priority > w {
            self.points[worst] = p;
        }
    }

    /// Draws an index with probability ∝ priority (`None` when empty).
    pub fn draw(&self, rng: &mut Rng) -> Option<usize> {
        use rand::Rng as _;
        let total: f64 = self.points.iter().map(|p| p.priority).sum();
        if self.points.is_empty() || total <= 0.0 {
            return None;
        }
        let mut x = rng.random::<f64>() * total;
        for (i, p) in self.points.iter().enumerate() {
            x -= p.priority;
            if x < 0.0 {
                return Some(i);
            }
        }
        Some(self.points.len() - 1)
    }
}

/// An environment that starts its episode at a restart point: `reset` restores the saved
/// state and returns the saved observation (the seed is ignored); everything else is the
/// wrapped environment's.
pub type Restarted = Wrapped<Restart>;

impl Hook for Restart {
    fn reset(&mut self, inner: &mut dyn Env, _seed: u64) -> Observation {
        let saved = self
            .state
            .lock()
            .expect("a restart point's lock is never poisoned");
        let ok = inner.restore(&saved);
        drop(saved);
        debug_assert!(ok, "a restart point restores into its own kind");
        self.observation.clone()
    }
}

/// ExIt's part of the collect stage: which task slots restart from the buffer, and how
/// the step's groups feed it.
pub struct Plan {
    /// Per task slot: the buffer index it restarts from (`None`: a fresh task).
    pub origin: Vec<Option<usize>>,
}

/// Chooses, for each of `n` task slots, a restart point with probability `prob` (when the
/// buffer has any).
pub fn plan(buf: &Buffer, n: usize, prob: f64, rng: &mut Rng) -> Plan {
    use rand::Rng as _;
    let origin = (0..n)
        .map(|_| {
            if rng.random::<f64>() < prob {
                buf.draw(rng)
            } else {
                None
            }
        })
        .collect();
    Plan { origin }
}

/// Replays the first `k` actions of `traj` in `env` (already reset to the episode's start)
/// and returns the restart point there, or `None` if the episode ended before turn k or the
/// environment has no snapshots.
pub fn point_at(
    mut env: Box<dyn Env>,
    parse: impl Fn(&dyn Env, &str) -> String,
    traj: &turnwise_core::Trajectory,
    k: usize,
    root_seed: u64,
    depth: usize,
    priority: f64,
) -> Option<Restart> {
    let mut last = None;
    for u in &traj.turns[..k] {
        let a = parse(&*env, &u.action.text);
        let s = env.step(&a);
        if s.terminated || s.truncated {
            return None;
        }
        last = Some(s);
    }
    let s = last?;
    Some(Restart {
        state: Arc::new(Mutex::new(env.snapshot()?)),
        observation: Observation {
            text: s.observation,
            info: s.info,
        },
        root_seed,
        depth: depth + k,
        priority,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use turnwise_core::seed;
    use turnwise_envs::registry;

    fn point(priority: f64) -> Restart {
        let mut env = registry::make("lmrl/maze-fo", &[]).unwrap();
        let obs = env.reset(1);
        Restart {
            state: Arc::new(Mutex::new(env.snapshot().unwrap())),
            observation: obs,
            root_seed: 1,
            depth: 0,
            priority,
        }
    }

    use crate::curricula::group_of as group;

    #[test]
    fn signal_is_the_spread_of_outcomes() {
        assert_eq!(learning_signal(&group(&[1.0, 1.0, 1.0])), 0.0);
        assert_eq!(learning_signal(&group(&[1.0])), 0.0);
        assert!((learning_signal(&group(&[0.0, 1.0])) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn admission_keeps_the_highest_priorities() {
        let mut b = Buffer::new(3);
        for p in [0.0, 0.2, 0.5, 0.1, 0.4, 0.05, 0.9] {
            b.admit(point(p));
        }
        let mut ps: Vec<f64> = b.points.iter().map(|p| p.priority).collect();
        ps.sort_by(f64::total_cmp);
        assert_eq!(ps, vec![0.4, 0.5, 0.9]);
    }

    #[test]
    fn draws_follow_priority() {
        let mut b = Buffer::new(8);
        b.admit(point(0.1));
        b.admit(point(0.3));
        b.admit(point(0.6));
        let mut rng = seed::rng(3, 9);
        let mut n = [0usize; 3];
        for _ in 0..20_000 {
            n[b.draw(&mut rng).unwrap()] += 1;
        }
        for (i, want) in [0.1, 0.3, 0.6].iter().enumerate() {
            let got = n[i] as f64 / 20_000.0;
            assert!((got - want).abs() < 0.02, "{i}: {got} vs {want}");
        }
        assert_eq!(Buffer::new(4).draw(&mut rng), None);
    }

    #[test]
    fn a_restarted_episode_continues_from_the_saved_state() {
        // Walk the maze two steps, save, then compare the original's continuation with a
        // restarted environment's (reset with an unrelated seed).
        let mut env = registry::make("lmrl/maze-fo", &[]).unwrap();
        env.reset(4);
        env.step("move up");
        let s = env.step("move left");
        let p = Restart {
            state: Arc::new(Mutex::new(env.snapshot().unwrap())),
            observation: Observation {
                text: s.observation.clone(),
                info: s.info.clone(),
            },
            root_seed: 4,
            depth: 2,
            priority: 1.0,
        };
        let want: Vec<_> = ["move down", "move right", "move right"]
            .iter()
            .map(|a| env.step(a))
            .collect();
        let mut r = Restarted::new(registry::make("lmrl/maze-fo", &[]).unwrap(), p);
        let obs = r.reset(999);
        assert_eq!(obs.text, s.observation);
        let got: Vec<_> = ["move down", "move right", "move right"]
            .iter()
            .map(|a| r.step(a))
            .collect();
        assert_eq!(got, want);
    }
}
