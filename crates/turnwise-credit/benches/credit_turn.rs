//! Criterion benchmarks of the turn-level estimators over `bench::turn::cases(1.0)`
//! (the sizes: 1M turns for IGPO / A²TGPO / SIOP, 100k tool turns for MatchTIR).
//! `TURNWISE_BENCH_SCALE` scales the batches (e.g. 0.1 for a quick run).

use criterion::{criterion_group, criterion_main, Criterion};
use turnwise_credit::bench::turn::cases;
use turnwise_credit::registry;

fn bench(c: &mut Criterion) {
    let scale = std::env::var("TURNWISE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let mut g = c.benchmark_group("credit_turn");
    g.sample_size(10);
    for case in cases(scale) {
        let method = registry::get(case.method).expect("registered method");
        let params =
            turnwise_credit::Params::resolve(case.method, method.info().params, &case.params, &[])
                .expect("valid bench parameters");
        let label = match case.params.get("assignment") {
            Some(a) => format!("{}_{}", case.method, a.as_str().unwrap_or("")),
            None => case.method.to_owned(),
        };
        g.bench_function(format!("{label}/{}_turns", case.batch.num_turns()), |b| {
            b.iter(|| method.compute(&case.batch, &params).expect("runs"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
