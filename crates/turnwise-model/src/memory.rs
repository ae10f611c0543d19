//! Process memory settings for libtorch CPU work.
//!
//! libtorch's CPU allocator uses glibc `malloc`. glibc raises its mmap threshold each time a
//! large block is freed (up to 32 MB), after which activation-sized blocks come from arenas
//! that are rarely given back; a train step then leaves the process ~60% above its live
//! memory. Fixing the threshold (which also disables the dynamic adjustment) makes every block
//! of at least `threshold` bytes an `mmap` returned to the OS on free, so the resident set
//! follows live tensors. Measured on `turnwise bench model` (glibc malloc, CUDA libraries
//! loaded, as they were then): peak RSS
//! 855 MB → 663 MB, but every large block is then faulted in afresh and a train step gets
//! ~45% slower, so it is opt-in. The `turnwise` binary uses mimalloc instead (override of
//! malloc), which keeps most of the saving (≈ 745 MB) at full speed.

/// Default threshold: 128 KiB, glibc's own starting value.
pub const DEFAULT_MMAP_THRESHOLD: usize = 128 * 1024;

/// Pins glibc's mmap threshold to `bytes` (call once at start-up, before large tensors
/// exist). Returns whether the setting was accepted; a no-op on non-glibc targets.
pub fn pin_mmap_threshold(bytes: usize) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator tuning parameters.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, bytes.min(i32::MAX as usize) as i32) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = bytes;
        false
    }
}

/// Applies `TURNWISE_MMAP_THRESHOLD=<bytes>` (pins glibc's mmap threshold; for programs
/// that keep glibc malloc); unset or `off` leaves the allocator alone.
pub fn configure_from_env() {
    if let Ok(v) = std::env::var("TURNWISE_MMAP_THRESHOLD") {
        if let Ok(n) = v.parse::<usize>() {
            pin_mmap_threshold(n);
        }
    }
}
