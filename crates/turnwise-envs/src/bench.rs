//! Throughput measurement for `turnwise env bench` (task item 6): single-threaded steps per
//! second, observations rendered (each step's observation text is produced and read).

use std::hint::black_box;
use std::time::Instant;

use rand::Rng as _;

use crate::env::Env;

/// The result of one measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchResult {
    /// Steps taken.
    pub steps: u64,
    /// Episodes started.
    pub episodes: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl BenchResult {
    /// Steps per second.
    pub fn steps_per_second(&self) -> f64 {
        self.steps as f64 / self.seconds
    }
}

/// Steps `env` with uniformly random valid actions (drawn in advance, so the measurement
/// is the environment alone) for about `min_seconds`, resetting at episode ends.
pub fn run(env: &mut dyn Env, seed: u64, min_seconds: f64) -> BenchResult {
    let space = env.action_space();
    let mut rng = turnwise_core::seed::rng(seed, 0xbe7c);
    let actions: Vec<&str> = (0..4096)
        .map(|_| space[rng.random_range(0..space.len())])
        .collect();
    let mut steps = 0u64;
    let mut episodes = 1u64;
    let mut bytes = 0usize;
    let start = Instant::now();
    let mut ep_seed = seed;
    bytes += env.reset(ep_seed).text.len();
    loop {
        for _ in 0..1024 {
            let a = actions[(steps & 4095) as usize];
            let s = env.step(black_box(a));
            bytes += s.observation.len();
            steps += 1;
            if s.terminated || s.truncated {
                ep_seed = ep_seed.wrapping_add(1);
                bytes += env.reset(ep_seed).text.len();
                episodes += 1;
            }
        }
        let el = start.elapsed().as_secs_f64();
        if el >= min_seconds {
            black_box(bytes);
            return BenchResult {
                steps,
                episodes,
                seconds: el,
            };
        }
    }
}
