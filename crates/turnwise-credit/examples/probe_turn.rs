//! Probe: wall and on-CPU time of each turn bench case (on-CPU from /proc/thread-self/schedstat).
use std::time::Instant;
fn cpu_ns() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut it = s.split_whitespace().map(|x| x.parse::<u64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}
fn main() {
    let scale = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let only = std::env::args().nth(2);
    for case in turnwise_credit::bench::turn::cases(scale) {
        if only.as_deref().is_some_and(|o| o != case.method) {
            continue;
        }
        let m = turnwise_credit::registry::get(case.method).unwrap();
        let p = turnwise_credit::Params::resolve(case.method, m.info().params, &case.params, &[])
            .unwrap();
        let mut best_cpu = u64::MAX;
        let mut best_wall = f64::MAX;
        for _ in 0..7 {
            let (c0, q0) = cpu_ns();
            let t0 = Instant::now();
            let o = m.compute(&case.batch, &p).unwrap();
            let w = t0.elapsed().as_secs_f64();
            let (c1, q1) = cpu_ns();
            std::hint::black_box(&o);
            drop(o);
            best_cpu = best_cpu.min(c1 - c0);
            best_wall = best_wall.min(w);
            let _ = q1 - q0;
        }
        println!(
            "{} {:?} turns={} best wall {:.1} ms, best on-cpu {:.1} ms",
            case.method,
            case.params.get("assignment"),
            case.batch.num_turns(),
            best_wall * 1e3,
            best_cpu as f64 / 1e6
        );
    }
}
