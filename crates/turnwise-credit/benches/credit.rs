//! Criterion benchmarks of the credit estimators over [`turnwise_credit::bench::all_cases`]
//! (≈ 1,000,000 turns per case at scale 1). `TURNWISE_BENCH_SCALE` scales the batches
//! (e.g. `0.1` for a quick run). Single-threaded, as the targets are.

use criterion::{criterion_group, criterion_main, Criterion};
use turnwise_credit::{bench, registry};

fn credit(c: &mut Criterion) {
    let scale: f64 = std::env::var("TURNWISE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let mut g = c.benchmark_group("credit");
    g.sample_size(10);
    for case in bench::all_cases(scale) {
        g.bench_function(case.method, |b| {
            b.iter(|| {
                registry::run(case.method, &case.batch, &case.params, &[])
                    .expect("benchmark case runs")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, credit);
criterion_main!(benches);
