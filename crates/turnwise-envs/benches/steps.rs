//! Single-threaded step throughput with observation rendering (task item 6):
//! `cargo bench -p turnwise-envs --bench steps`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use turnwise_envs::registry;

fn maze(c: &mut Criterion) {
    let mut g = c.benchmark_group("step");
    g.throughput(Throughput::Elements(1));
    for name in ["lmrl/maze-fo", "lmrl/maze-po"] {
        let mut env = registry::make(name, &[]).unwrap();
        env.reset(0);
        let actions = [
            "move up",
            "move left",
            "move down",
            "move right",
            "move down",
        ];
        let mut i = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let s = env.step(black_box(actions[i % actions.len()]));
                let n = s.observation.len();
                if s.terminated || s.truncated {
                    env.reset(i as u64);
                }
                n
            })
        });
    }
    g.finish();
}

fn ragen(c: &mut Criterion) {
    let mut g = c.benchmark_group("step-10");
    g.throughput(Throughput::Elements(10));
    for name in ["ragen/sokoban", "ragen/frozenlake"] {
        let opts = [
            ("max_actions".to_string(), "1000".to_string()),
            ("max_turns".to_string(), "1000".to_string()),
        ];
        let mut seed = 0u64;
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || {
                    seed += 1;
                    let mut e = registry::make(name, &opts).unwrap();
                    e.reset(seed);
                    e
                },
                |env| {
                    let mut n = 0;
                    for a in [
                        "Up", "Left", "Down", "Right", "Up", "Right", "Down", "Left", "Up", "Down",
                    ] {
                        n += env.step(black_box(a)).observation.len();
                    }
                    n
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, maze, ragen);
criterion_main!(benches);
