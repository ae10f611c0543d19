//! Deterministic per-episode randomness and group seeding (spec §10 "deterministic RNG per
//! episode, e.g. ChaCha8 seeded from (env_id, seed); group members share the seed";
//! §10.1.6 disjoint train / eval seed ranges).

use turnwise_core::seed::{self, Rng, Split};

/// FNV-1a of the environment name: the ChaCha8 stream id of that environment, so two
/// environments never share a random stream for the same seed.
pub const fn stream_of(env: &str) -> u64 {
    let b = env.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// The random generator of the episode of `env` started from `seed`.
pub fn episode_rng(env: &str, seed: u64) -> Rng {
    seed::rng(seed, stream_of(env))
}

/// The seeds of `groups` consecutive groups (task indices `first..first+groups`) of
/// `split` under `run_seed`, each repeated `group_size` times: members of a group share
/// their seed, groups differ, and train and eval seeds never overlap
/// ([`turnwise_core::seed::task_seed`]).
pub fn group_seeds(
    run_seed: u64,
    split: Split,
    first: u64,
    groups: u64,
    group_size: usize,
) -> Vec<u64> {
    (first..first + groups)
        .flat_map(|i| std::iter::repeat_n(seed::task_seed(run_seed, split, i), group_size))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_share_seeds_and_splits_are_disjoint() {
        let tr = group_seeds(5, Split::Train, 0, 50, 4);
        let ev = group_seeds(5, Split::Eval, 0, 50, 4);
        assert_eq!(tr.len(), 200);
        for g in tr.chunks(4) {
            assert!(g.iter().all(|s| *s == g[0]));
        }
        let distinct: std::collections::BTreeSet<_> = tr.iter().collect();
        assert_eq!(distinct.len(), 50);
        assert!(tr.iter().all(|s| !ev.contains(s)));
    }
}
