//! Memory per concurrent episode (task item 6: 100,000 episodes must fit in 1 GiB),
//! measured with a counting global allocator: live heap bytes after creating and
//! resetting many environments, divided by their number, plus the instance size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use turnwise_envs::{registry, Env};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Heap bytes per live episode of `name` (instance box included), after reset and one step.
fn bytes_per_episode(name: &str, n: usize) -> f64 {
    // Warm the shared tables (word lists, observation tables, interned instructions).
    let mut w = registry::make(name, &[]).unwrap();
    w.reset(0);
    w.step("x");
    let before = LIVE.load(Ordering::Relaxed);
    let mut envs: Vec<Box<dyn Env>> = Vec::with_capacity(n);
    let vec_bytes = (n * std::mem::size_of::<Box<dyn Env>>()) as isize;
    for i in 0..n {
        let mut e = registry::make(name, &[]).unwrap();
        e.reset(i as u64);
        let s = e.expert_action().unwrap_or_default();
        e.step(&s);
        envs.push(e);
    }
    let used = LIVE.load(Ordering::Relaxed) - before - vec_bytes;
    drop(envs);
    used as f64 / n as f64
}

#[test]
fn hundred_thousand_episodes_fit_in_one_gib() {
    let gib = (1u64 << 30) as f64;
    for (name, n) in [
        ("lmrl/maze-fo", 100_000),
        ("lmrl/maze-po", 5_000),
        ("ragen/sokoban", 300),
        ("ragen/frozenlake", 500),
        ("ragen/bandit", 3_000),
        ("lmrl/wordle", 300),
        ("wordle/standard", 100),
        ("math/arith", 3_000),
        ("try-again", 3_000),
    ] {
        let per = bytes_per_episode(name, n) + std::mem::size_of::<Box<dyn Env>>() as f64;
        println!("{name:<18} {per:>8.0} bytes per live episode");
        assert!(per * 100_000.0 < gib, "{name}: {per} bytes per episode");
    }
}
