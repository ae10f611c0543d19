//! Benchmark batches of the outcome-level methods: 8,192 groups × 8 trajectories × 10–20
//! turns (≈ 15 on average, ≈ 1,000,000 turns), deterministic from
//! [`turnwise_core::seed::rng`].
//!
//! Generator (also documented in `bench/credit_reference.py`, which reads the exported
//! arrays rather than re-generating): per group a success probability `p ~ U(0, 1)`; per
//! trajectory `T ~ U{10, …, 20}` turns and outcome `R ~ Bernoulli(p)` ∈ {0, 1}; per turn a
//! reward that is 0 with probability 0.7 and `U(−1, 1)` otherwise, and (GiGPO) an anchor
//! state drawn from 20 per group: turn 0 is always state 0 (the shared initial state), later
//! turns draw a state uniformly. Anchors are ≈ 60-byte observation-like strings.

use rand::Rng;
use serde_json::{json, Map, Value};
use turnwise_core::{seed, Batch, Group, Trajectory, Turn};

use super::BenchCase;

/// Groups at scale 1.
pub const GROUPS: usize = 8192;
/// Trajectories per group.
pub const GROUP_SIZE: usize = 8;
/// Fewest and most turns of a trajectory.
pub const TURNS: (usize, usize) = (10, 20);
/// Distinct anchor states per group (GiGPO).
pub const ANCHORS: usize = 20;
/// Seed of the synthetic batches.
pub const SEED: u64 = 0x7475_726e_7769_7365; // "turnwise"

/// The anchor (state key) of state `a` of group `g`.
pub fn anchor_text(g: usize, a: usize) -> String {
    format!("task {g:05} | room {a:02} | you see a desk, a lamp and a closed drawer")
}

/// The synthetic batch at `scale` (number of groups × scale, at least 1), with anchors
/// or without. Same `scale` → same batch, bit for bit (anchors do not change the other
/// fields).
pub fn synthetic_batch(scale: f64, anchors: bool) -> Batch {
    let groups = ((GROUPS as f64 * scale).round() as usize).max(1);
    let mut rng = seed::rng(SEED, 0);
    let mut out = Vec::with_capacity(groups);
    for g in 0..groups {
        let p: f64 = rng.random();
        let mut trajectories = Vec::with_capacity(GROUP_SIZE);
        for j in 0..GROUP_SIZE {
            let n = rng.random_range(TURNS.0..=TURNS.1);
            let outcome = if rng.random_bool(p) { 1.0 } else { 0.0 };
            let mut turns = Vec::with_capacity(n);
            for k in 0..n {
                let reward = if rng.random_bool(0.3) {
                    rng.random_range(-1.0..1.0)
                } else {
                    0.0
                };
                let a = if k == 0 {
                    0
                } else {
                    rng.random_range(0..ANCHORS)
                };
                turns.push(Turn {
                    tokens: 32,
                    reward: Some(reward),
                    anchor: anchors.then(|| anchor_text(g, a).into_boxed_str()),
                    ..Turn::default()
                });
            }
            trajectories.push(Trajectory {
                id: format!("g{g}-t{j}"),
                group_id: format!("g{g}"),
                turns,
                outcome: Some(outcome),
                terminated: true,
                ..Trajectory::default()
            });
        }
        out.push(Group {
            prompt_id: format!("g{g}"),
            seed: Some(g as u64),
            gt_tool_calls: None,
            trajectories,
        });
    }
    Batch { groups: out }
}

fn params(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The outcome-level benchmark cases with the single-threaded targets
/// (35, 35, 35, 70 ms at scale 1; targets scale linearly with `scale`).
pub fn cases(scale: f64) -> Vec<BenchCase> {
    let case = |method, p: Value, anchors, ms: f64| BenchCase {
        method,
        params: params(p),
        batch: synthetic_batch(scale, anchors),
        target_seconds: ms * 1e-3 * scale,
    };
    vec![
        case("grpo", json!({}), false, 35.0),
        case("rloo", json!({}), false, 35.0),
        case("trloo", json!({"gamma": 1.0}), false, 35.0),
        case(
            "gigpo",
            json!({"gamma": 0.95, "omega": 1.0, "mode": "mean_std_norm", "episode_stats": "per_step"}),
            true,
            70.0,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_is_deterministic_and_sized() {
        let a = synthetic_batch(0.01, true);
        let b = synthetic_batch(0.01, true);
        assert_eq!(a, b);
        assert_eq!(a.groups.len(), 82);
        let turns = a.num_turns() as f64 / a.num_trajectories() as f64;
        assert!(
            (13.5..16.5).contains(&turns),
            "{turns} turns per trajectory"
        );
        let distinct: std::collections::HashSet<_> = a.groups[0]
            .trajectories
            .iter()
            .flat_map(|t| t.turns.iter().map(|u| u.anchor.clone()))
            .collect();
        assert!(distinct.len() <= ANCHORS && distinct.len() > 10);
        // anchors do not change the other fields
        let c = synthetic_batch(0.01, false);
        assert_eq!(
            c.groups[3].trajectories[2].turns[4].reward,
            a.groups[3].trajectories[2].turns[4].reward
        );
    }
}
