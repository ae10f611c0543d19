//! Throughput measurement for `turnwise env bench` (task item 6): single-threaded steps per
//! second, observations rendered (each step's observation text is produced and read).
//! Resets (procedural generation) are timed apart from steps.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::Rng as _;

use crate::env::Env;

/// The result of one measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchResult {
    /// Steps taken.
    pub steps: u64,
    /// Episodes started (resets).
    pub episodes: u64,
    /// Wall-clock seconds spent in `step`.
    pub step_seconds: f64,
    /// Wall-clock seconds spent in `reset`.
    pub reset_seconds: f64,
}

impl BenchResult {
    /// Steps per second, resets excluded.
    pub fn steps_per_second(&self) -> f64 {
        self.steps as f64 / self.step_seconds
    }

    /// Steps per second, reset time included.
    pub fn steps_per_second_with_resets(&self) -> f64 {
        self.steps as f64 / (self.step_seconds + self.reset_seconds)
    }
}

/// Steps `env` with uniformly random valid actions (drawn in advance, so the measurement
/// is the environment alone) for about `min_seconds`, resetting at episode ends.
pub fn run(env: &mut dyn Env, seed: u64, min_seconds: f64) -> BenchResult {
    let space = env.action_space();
    let mut rng = turnwise_core::seed::rng(seed, 0xbe7c);
    let actions: Vec<&str> = (0..4096)
        .map(|_| &*space[rng.random_range(0..space.len())])
        .collect();
    let (mut steps, mut episodes, mut bytes) = (0u64, 0u64, 0usize);
    let mut reset_time = Duration::ZERO;
    let mut ep_seed = seed;
    let start = Instant::now();
    let t = Instant::now();
    bytes += env.reset(ep_seed).text.len();
    reset_time += t.elapsed();
    loop {
        for _ in 0..1024 {
            let a = actions[(steps & 4095) as usize];
            let s = env.step(black_box(a));
            bytes += s.observation.len();
            steps += 1;
            if s.terminated || s.truncated {
                ep_seed = ep_seed.wrapping_add(1);
                let t = Instant::now();
                bytes += env.reset(ep_seed).text.len();
                reset_time += t.elapsed();
                episodes += 1;
            }
        }
        let el = start.elapsed();
        if el.as_secs_f64() >= min_seconds {
            black_box(bytes);
            return BenchResult {
                steps,
                episodes: episodes + 1,
                step_seconds: (el - reset_time).as_secs_f64(),
                reset_seconds: reset_time.as_secs_f64(),
            };
        }
    }
}
