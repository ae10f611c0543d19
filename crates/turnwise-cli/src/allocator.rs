//! Start-up tuning of mimalloc, the process-wide malloc of the `turnwise` binary (libtorch's
//! CPU tensors included).
//!
//! mimalloc returns freed memory to the OS ("purges" it, `madvise(MADV_DONTNEED)`) once it
//! has stayed free for `purge_delay` ms (1000 by default). A train step frees and allocates
//! gigabytes of activations and gradients, and the next step (after a rollout, or in `turnwise
//! bench model` after the other side's step) then gets fresh pages that the kernel must
//! fault in and zero: `perf` on SmolLM2-135M at 2 threads put 30% of turnwise's CPU time in
//! `clear_page_erms`, and the forward pass took 1.6–1.9× transformers' CPU time (glibc, which
//! transformers runs on, keeps freed blocks below its 32 MB mmap threshold in its arenas).
//! With purging off the forward pass costs what transformers' does and the step's ratio fell
//! from 1.2–1.4× to 0.80–0.93× (docs/model.md, "Train step"). The price is resident memory
//! that stays at its high-water mark, as with glibc's arenas: peak RSS ≈ 7% higher.

/// mimalloc's `mi_option_purge_delay` (index in `mi_option_e`, the same in mimalloc 2 and 3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Turns mimalloc's purging of freed memory off (see the module documentation), unless
/// `MIMALLOC_PURGE_DELAY` is set in the environment (then mimalloc's own reading of it
/// stands). Call first thing in `main`, before other threads exist.
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option; no other thread is running yet.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY (all calls): reads or sets one integer option.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        let before = get();
        // mimalloc's default purge delay: 1000 ms in mimalloc 3, 10 ms in mimalloc 2; no
        // neighbouring option has either default.
        assert!(
            before == 1000 || before == 10,
            "option {MI_OPTION_PURGE_DELAY} is {before}"
        );
        keep_freed_memory();
        assert_eq!(get(), -1);
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, before) };
    }
}
