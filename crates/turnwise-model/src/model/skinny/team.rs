//! The threads that compute a product's chunks (or any tasks, [`for_each_task`]): the calling
//! thread and a kept rayon pool of `threads - 1` helpers.
//!
//! Not torch's OpenMP team (reachable through libgomp's `GOMP_parallel`): a parallel region
//! ends at a barrier, and on a machine whose cores other processes keep busy the caller then
//! waits for a descheduled worker to start. Measured on the shared 2-core machine at load
//! 3.5–4.5, 8 × 64 tokens, 2 threads, 3 runs each: 52–91 s wall on torch's team against
//! 24–61 s here (`model generate`). Here the caller waits only for chunks that a helper has
//! already taken.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Work cut in chunks that the threads of [`run`] take in turn.
pub(super) trait Chunked: Send + Sync + 'static {
    /// How many chunks there are.
    fn chunks(&self) -> usize;
    /// Takes and computes chunks until none is left.
    fn work(&self);
    /// How many chunks are finished.
    fn finished(&self) -> usize;
}

/// Computes every chunk of `job` on `threads` threads (fewer if there are fewer chunks):
/// helpers take chunks as they get scheduled, the caller takes the rest and then waits for
/// the chunks under way.
pub(super) fn run<J: Chunked>(job: &Arc<J>, threads: usize) {
    let threads = threads.min(job.chunks()).max(1);
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
    while job.finished() < job.chunks() {
        if spins < 1 << 12 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

/// A task function with its lifetime erased, and the tasks handed out and finished.
struct Tasks {
    f: *const (dyn Fn(usize) + Sync + 'static),
    n: usize,
    next: AtomicUsize,
    done: AtomicUsize,
}

// SAFETY: `f` is called only for a task taken from `next`, and `for_each_task`, which
// borrows the function for its whole call, returns only after `done` counts every task; a
// helper that starts later takes none and never calls `f`. The function itself is `Sync`.
unsafe impl Send for Tasks {}
unsafe impl Sync for Tasks {}

impl Chunked for Tasks {
    fn chunks(&self) -> usize {
        self.n
    }

    fn work(&self) {
        loop {
            let c = self.next.fetch_add(1, Ordering::Relaxed);
            if c >= self.n {
                return;
            }
            // SAFETY: see `impl Sync for Tasks`: the function outlives every call made here.
            unsafe { (*self.f)(c) };
            self.done.fetch_add(1, Ordering::Release);
        }
    }

    fn finished(&self) -> usize {
        self.done.load(Ordering::Acquire)
    }
}

/// Calls `f(i)` for every i < n on `threads` threads (the caller and the kept helpers), each
/// task once, returning when all are done. `f` must not panic (a helper's panic aborts).
pub fn for_each_task(n: usize, threads: usize, f: &(dyn Fn(usize) + Sync)) {
    if n == 0 {
        return;
    }
    if threads <= 1 || n == 1 {
        (0..n).for_each(f);
        return;
    }
    let f: *const (dyn Fn(usize) + Sync + '_) = f;
    // SAFETY: only the lifetime is erased; `run` below returns after every task finished
    // (see `impl Sync for Tasks`), so `f` is never called after this function returns.
    let f: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(f) };
    let tasks = Arc::new(Tasks {
        f,
        n,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
    });
    run(&tasks, threads);
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
