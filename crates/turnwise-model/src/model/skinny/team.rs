//! The threads that compute a product's chunks: the calling thread and a kept rayon pool of
//! `threads - 1` helpers.
//!
//! Not torch's OpenMP team (reachable through libgomp's `GOMP_parallel`): a parallel region
//! ends at a barrier, and on a machine whose cores other processes keep busy the caller then
//! waits for a descheduled worker to start. Measured on the shared 2-core machine at load
//! 3.5–4.5, 8 × 64 tokens, 2 threads, 3 runs each: 52–91 s wall on torch's team against
//! 24–61 s here (`model generate`). Here the caller waits only for chunks that a helper has
//! already taken.

use super::kernel::Job;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Computes every chunk of `job` on `threads` threads (fewer if there are fewer chunks):
/// helpers take chunks as they get scheduled, the caller takes the rest and then waits for
/// the chunks under way.
pub(super) fn run(job: &Arc<Job>, threads: usize) {
    let threads = threads.min(job.chunks).max(1);
    if threads > 1 {
        if let Some(p) = pool(threads - 1) {
            for _ in 1..threads {
                let j = job.clone();
                p.spawn(move || j.work());
            }
        }
    }
    job.work();
    let mut spins = 0u32;
    while job.done.load(Ordering::Acquire) < job.chunks {
        if spins < 1 << 12 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

/// The rayon pool of `threads` helper threads, built on first use and kept (rebuilt when
/// the count changes); `None` if it cannot be built (the caller then works alone).
fn pool(threads: usize) -> Option<Arc<rayon::ThreadPool>> {
    static POOL: Mutex<Option<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(None);
    let mut guard = POOL.lock().ok()?;
    if let Some((t, p)) = guard.as_ref() {
        if *t == threads {
            return Some(p.clone());
        }
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("turnwise-xwt-{i}"))
            .build()
            .ok()?,
    );
    *guard = Some((threads, p.clone()));
    Some(p)
}
