//! Criterion benchmark of the few-row decoding kernel (`model::skinny`) against torch's
//! `x Wᵀ` (MKL sgemm) and `(W xᵀ)ᵀ` on SmolLM2-135M's decoding shapes: 8 rows times the
//! fused q/k/v block (960 × 576), o_proj (576 × 576), the fused gate/up block (3,072 × 576),
//! down_proj (576 × 1,536) and the tied head (49,152 × 576). `TURNWISE_BENCH_THREADS` sets
//! the thread count of both (default 1). The weights repeat, so the layers' products run
//! from cache here; in a decoding step they stream from memory (docs/model.md).

use criterion::{criterion_group, criterion_main, Criterion};
use tch::{Device, Kind, Tensor};
use turnwise_model::model::skinny;

fn products(c: &mut Criterion) {
    let threads: i32 = std::env::var("TURNWISE_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    tch::set_num_threads(threads);
    tch::manual_seed(0);
    let rows = 8;
    let mut g = c.benchmark_group(format!("xwt_8rows_{threads}threads"));
    g.sample_size(20);
    for (n, k) in [
        (960, 576),
        (576, 576),
        (3072, 576),
        (576, 1536),
        (49152, 576),
    ] {
        let x = Tensor::randn([rows, k], (Kind::Float, Device::Cpu));
        let w = Tensor::randn([n, k], (Kind::Float, Device::Cpu));
        g.bench_function(format!("{n}x{k}/kernel"), |b| {
            b.iter(|| skinny::xwt_tensor(&x, &w).expect("runs").expect("applies"))
        });
        g.bench_function(format!("{n}x{k}/torch_x_wt"), |b| {
            b.iter(|| x.linear::<Tensor>(&w, None))
        });
        g.bench_function(format!("{n}x{k}/torch_w_xt"), |b| {
            b.iter(|| w.matmul(&x.tr()).tr())
        });
    }
    g.finish();
}

criterion_group!(benches, products);
criterion_main!(benches);
