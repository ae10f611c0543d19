//! `y = x Wᵀ` for a few rows of `x` (decoding: one row per sequence), f32 on the CPU, without
//! packing. Each weight row is read from memory once and multiplied against every row of
//! `x`, which stays in L1; the products are vectorised (AVX-512F or AVX2 + FMA, chosen at run
//! time, else plain Rust) and split over torch's intra-op thread count by blocks of weight
//! rows. A BLAS sgemm (MKL's, through torch) instead copies ("packs") the weight, the large
//! operand, on every call, which for 8 rows costs more than the multiply; the `gemm` and
//! `matrixmultiply` crates pack as well and measured 2–3× slower than this kernel on
//! SmolLM2's shapes (docs/model.md, "Generation speed").

mod kernel;
mod team;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use kernel::{detect, dot_lanes, xwt, xwt_with, Isa, ShapeError};
pub use team::for_each_task;

use crate::error::Result;
use std::cell::Cell;
use tch::{Device, Kind, Tensor};

/// The most rows of `x` the kernel takes (beyond it a BLAS sgemm's packing pays off).
pub const MAX_ROWS: i64 = 16;

thread_local! {
    /// The kernel's thread count inside [`decoding`] on this thread.
    static DECODE_THREADS: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Runs `f` (a decoding loop on this thread) with torch's intra-op threads set to 1 and the
/// kernel's to the count torch had, restored afterwards (also on a panic).
///
/// With a KV cache the products are the kernel's, and what torch still computes per step is
/// small (norms, rotary, attention over the cached keys, sampling). At more than one torch
/// thread each such op opens an OpenMP region whose workers then spin for milliseconds,
/// taking the cores from the kernel's helpers and, on a machine shared with other processes,
/// making each region wait at its barrier for a descheduled worker (docs/model.md,
/// "Generation speed").
pub fn decoding<R>(f: impl FnOnce() -> R) -> R {
    let threads = tch::get_num_threads();
    if threads <= 1 {
        return f();
    }
    /// Puts the thread counts back.
    struct Restore(i32, Option<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            tch::set_num_threads(self.0);
            DECODE_THREADS.with(|c| c.set(self.1));
        }
    }
    let prev = DECODE_THREADS.with(|c| c.replace(Some(threads as usize)));
    let _restore = Restore(threads, prev);
    tch::set_num_threads(1);
    f()
}

/// The kernel's thread count on this thread: inside [`decoding`] the count torch had before
/// it, else torch's intra-op thread count (at least 1).
pub fn threads() -> usize {
    DECODE_THREADS
        .with(Cell::get)
        .unwrap_or_else(|| usize::try_from(tch::get_num_threads()).unwrap_or(1))
        .max(1)
}

/// The elements of `t` when it is a contiguous f32 CPU tensor, else `None`.
pub fn floats(t: &Tensor) -> Option<&[f32]> {
    if t.kind() != Kind::Float || t.device() != Device::Cpu || !t.is_contiguous() {
        return None;
    }
    let n = t.numel();
    if n == 0 {
        return Some(&[]);
    }
    // SAFETY: a contiguous f32 CPU tensor holds `numel` floats from its data pointer; the
    // storage lives at least as long as the borrowed handle `t`. Nothing writes to it while
    // the slice is in use: the callers pass weights, which are only read during decoding
    // (in-place updates need `&mut` access to the policy, which decoding's `&self`
    // excludes), or tensors they made themselves.
    Some(unsafe { std::slice::from_raw_parts(t.data_ptr() as *const f32, n) })
}

/// The elements of `t` for writing when it is a contiguous f32 CPU tensor, else `None`.
pub fn floats_mut(t: &mut Tensor) -> Option<&mut [f32]> {
    if t.kind() != Kind::Float || t.device() != Device::Cpu || !t.is_contiguous() {
        return None;
    }
    let n = t.numel();
    if n == 0 {
        return Some(&mut []);
    }
    // SAFETY: as in `floats`; `t` is borrowed mutably, and the tensors passed here (a
    // cache's keys and values, a freshly allocated product) own their storage: no view of
    // it outlives a call.
    Some(unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, n) })
}

/// `x Wᵀ` [m, n] for `x` [m, k] and `w` [n, k] through the kernel, on torch's intra-op
/// thread count (inside [`decoding`]: the count before it), or `None` when it does not
/// apply: not both f32 on the CPU, not 2-D with equal k, `w` not contiguous, an empty
/// operand, or more than [`MAX_ROWS`] rows. The result does not track gradients: call it
/// only without autograd.
pub fn xwt_tensor(x: &Tensor, w: &Tensor) -> Result<Option<Tensor>> {
    let (xs, ws) = (x.size(), w.size());
    let applies = xs.len() == 2
        && ws.len() == 2
        && xs[1] == ws[1]
        && (1..=MAX_ROWS).contains(&xs[0])
        && ws[0] > 0
        && ws[1] > 0
        && x.kind() == Kind::Float
        && w.kind() == Kind::Float
        && x.device() == Device::Cpu
        && w.device() == Device::Cpu
        && w.is_contiguous();
    if !applies {
        return Ok(None);
    }
    let x = x.f_contiguous()?;
    let mut y = Tensor::f_empty([xs[0], ws[0]], (Kind::Float, Device::Cpu))?;
    let threads = threads();
    let (xd, wd) = (floats(&x), floats(w));
    let (Some(xd), Some(wd), Some(yd)) = (xd, wd, floats_mut(&mut y)) else {
        return Ok(None);
    };
    let done = xwt(
        xd,
        wd,
        yd,
        (xs[0] as usize, ws[0] as usize, ws[1] as usize),
        threads,
    );
    match done {
        Ok(()) => Ok(Some(y)),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_product_equals_torch_and_declines_what_it_cannot_take() {
        tch::manual_seed(3);
        for (m, n, k) in [(1, 7, 5), (8, 300, 64), (16, 49, 130)] {
            let x = Tensor::randn([m, k], (Kind::Float, Device::Cpu));
            let w = Tensor::randn([n, k], (Kind::Float, Device::Cpu));
            let y = xwt_tensor(&x, &w).unwrap().expect("applies");
            let r = x.matmul(&w.tr());
            let diff = (&y - &r).abs().max().double_value(&[]);
            assert!(diff < 1e-4, "m{m} n{n} k{k}: max |Δ| {diff}");
            // A non-contiguous x (a column slice) is copied first and gives the same.
            let wide = Tensor::cat(&[&x, &x], 1);
            let y2 = xwt_tensor(&wide.narrow(1, 0, k), &w)
                .unwrap()
                .expect("applies");
            assert!(y2.equal(&y));
        }
        let x = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
        let w = Tensor::randn([6, 8], (Kind::Float, Device::Cpu));
        let none = |x: &Tensor, w: &Tensor| xwt_tensor(x, w).unwrap().is_none();
        assert!(none(&x.to_kind(Kind::Double), &w.to_kind(Kind::Double)));
        assert!(none(&x, &w.tr().contiguous().tr()));
        assert!(none(
            &Tensor::randn([17, 8], (Kind::Float, Device::Cpu)),
            &w
        ));
        assert!(none(&x, &Tensor::randn([6, 7], (Kind::Float, Device::Cpu))));
        assert!(none(&x.unsqueeze(0), &w));
    }
}
