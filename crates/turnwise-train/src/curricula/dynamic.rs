//! DAPO's dynamic sampling (Yu et al. 2025, "DAPO", §3.2): a group whose members all have
//! the same reward gives every member a zero group-relative advantage, so it carries no
//! GRPO gradient and only dilutes the batch. Such groups are dropped and more tasks are
//! sampled until the batch holds `tasks_per_step` groups with signal, with a bound on the
//! number of refill rounds (verl's DAPO recipe: `filter_groups.max_num_gen_batches`).
//!
//! The filter metric is the trajectory's outcome (its return), the value GRPO normalises
//! (DAPO's `acc` for 0/1 rewards). ASSUMPTIONS (ours, where verl's recipe differs): a refill
//! round samples only as many new tasks as are missing (verl samples a whole generation
//! batch); when the rounds run out with fewer groups than wanted, the step trains on those
//! it has (verl stops the run with an error), and when none carries signal it trains on the
//! first round's groups (every GRPO advantage is then zero).

use anyhow::Result;
use turnwise_core::seed::{self, Split};
use turnwise_core::Group;

/// Whether `g`'s outcomes differ (a group with fewer than two members never does).
pub fn has_signal(g: &Group) -> bool {
    let mut it = g
        .trajectories
        .iter()
        .map(|t| t.outcome.unwrap_or_else(|| t.total_reward()));
    let Some(first) = it.next() else { return false };
    it.any(|o| o != first)
}

/// What [`fill`] did in one step (logged in `metrics.jsonl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FillStats {
    /// Sampling rounds (1: no refill was needed).
    pub rounds: usize,
    /// Groups sampled over all rounds.
    pub sampled: usize,
    /// Groups dropped for equal outcomes.
    pub dropped: usize,
}

/// Samples groups until `want` of them carry signal or `max_rounds` rounds are spent.
/// `draw(round, n)` plays `n` new tasks (round 0 asks for `want`). Returns at most `want`
/// groups, in the order they were drawn (see the module doc for a short batch).
pub fn fill(
    want: usize,
    max_rounds: usize,
    mut draw: impl FnMut(usize, usize) -> Result<Vec<Group>>,
) -> Result<(Vec<Group>, FillStats)> {
    let mut kept = Vec::with_capacity(want);
    let mut first = Vec::new();
    let mut st = FillStats::default();
    while kept.len() < want && st.rounds < max_rounds.max(1) {
        let drawn = draw(st.rounds, want - kept.len())?;
        st.rounds += 1;
        st.sampled += drawn.len();
        for g in drawn {
            if has_signal(&g) {
                kept.push(g);
            } else {
                st.dropped += 1;
                if st.rounds == 1 {
                    first.push(g);
                }
            }
        }
    }
    kept.truncate(want);
    if kept.is_empty() {
        kept = first;
    }
    Ok((kept, st))
}

/// The seed of task `i` of refill round `round ≥ 1` at RL step `step`: a stream of train
/// seeds disjoint from the regular ones (`task_seed(seed, Train, step·n + i)`), so round 0
/// plays exactly the tasks a run without dynamic sampling plays.
pub fn refill_seed(run_seed: u64, step: u64, round: usize, i: usize, max_per_round: usize) -> u64 {
    let index =
        (1u64 << 62) | ((step * 4096 + round as u64) * max_per_round.max(1) as u64 + i as u64);
    seed::task_seed(run_seed, Split::Train, index)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::curricula::group_of as group;

    #[test]
    fn signal_means_unequal_outcomes() {
        assert!(!has_signal(&group(&[])));
        assert!(!has_signal(&group(&[1.0])));
        assert!(!has_signal(&group(&[0.0, 0.0, 0.0])));
        assert!(!has_signal(&group(&[1.0, 1.0])));
        assert!(has_signal(&group(&[0.0, 1.0, 0.0])));
        assert!(has_signal(&group(&[-3.0, -2.5])));
    }

    /// A task source where task k is solved by all, none, or some of its members.
    fn source(pattern: &'static [u8]) -> impl FnMut(usize, usize) -> Result<Vec<Group>> {
        let mut next = 0;
        move |_, n| {
            let gs = (0..n)
                .map(|_| {
                    let p = pattern[next % pattern.len()];
                    next += 1;
                    match p {
                        0 => group(&[0.0; 4]),
                        1 => group(&[1.0; 4]),
                        _ => group(&[0.0, 1.0, 1.0, 0.0]),
                    }
                })
                .collect();
            Ok(gs)
        }
    }

    #[test]
    fn refilled_batches_hold_no_zero_variance_group() {
        let (gs, st) = fill(8, 10, source(&[0, 2, 1, 2, 2, 0, 0])).unwrap();
        assert_eq!(gs.len(), 8);
        assert!(gs.iter().all(has_signal));
        assert!(st.rounds > 1);
        assert_eq!(st.sampled - st.dropped, 8, "only missing tasks are drawn");
    }

    #[test]
    fn rounds_are_bounded_and_a_short_batch_trains_on_what_it_has() {
        let mut calls = vec![];
        let mut src = source(&[0, 0, 0, 2]);
        let (gs, st) = fill(4, 3, |r, n| {
            calls.push((r, n));
            src(r, n)
        })
        .unwrap();
        assert_eq!(st.rounds, 3);
        assert_eq!(calls, vec![(0, 4), (1, 3), (2, 3)]);
        assert_eq!(gs.len(), 2);
        assert!(gs.iter().all(has_signal));
        assert_eq!(st.dropped, 8);
    }

    #[test]
    fn no_signal_at_all_keeps_the_first_round() {
        let (gs, st) = fill(3, 4, source(&[1])).unwrap();
        assert_eq!(gs.len(), 3);
        assert_eq!((st.rounds, st.sampled, st.dropped), (4, 12, 12));
    }

    #[test]
    fn refill_seeds_are_distinct_from_each_other_and_from_regular_seeds() {
        let mut seen = std::collections::HashSet::new();
        for step in 0..20u64 {
            for i in 0..8u64 {
                assert!(seen.insert(seed::task_seed(7, Split::Train, step * 8 + i)));
            }
            for round in 1..4 {
                for i in 0..8 {
                    assert!(seen.insert(refill_seed(7, step, round, i, 8)));
                }
            }
        }
    }
}
