//! Deterministic seeding. Every random stream in turnwise is a ChaCha8 generator keyed by
//! a 64-bit seed and a stream id, so the same configuration gives the same episodes on any
//! machine, and parallel workers never share a stream.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random generator used throughout turnwise.
pub type Rng = ChaCha8Rng;

/// A generator for `(seed, stream)`: independent streams for independent uses
/// (environment episodes, sampling, shuffling) derived from one run seed.
pub fn rng(seed: u64, stream: u64) -> Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// SplitMix64: a bijective mixer used to derive child seeds from a parent seed.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Which seed range a task seed is drawn from. Training and evaluation ranges never
/// overlap: training seeds have the top bit clear, evaluation seeds have it set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Seeds for training rollouts.
    Train,
    /// Seeds for evaluation episodes.
    Eval,
}

/// The environment seed of task `index` of `split` under run seed `run_seed`. All members
/// of a group use the same task seed (GRPO-style groups share the initial state).
pub fn task_seed(run_seed: u64, split: Split, index: u64) -> u64 {
    let s = mix(run_seed ^ mix(index)) >> 1;
    match split {
        Split::Train => s,
        Split::Eval => s | (1 << 63),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn same_seed_same_stream() {
        assert_eq!(rng(7, 1).next_u64(), rng(7, 1).next_u64());
        assert_ne!(rng(7, 1).next_u64(), rng(7, 2).next_u64());
    }

    #[test]
    fn train_and_eval_seeds_are_disjoint() {
        for i in 0..1000 {
            assert!(task_seed(3, Split::Train, i) < 1 << 63);
            assert!(task_seed(3, Split::Eval, i) >= 1 << 63);
        }
        assert_ne!(task_seed(3, Split::Train, 0), task_seed(3, Split::Train, 1));
    }
}
