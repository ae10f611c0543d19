//! The kernel on slices: `y = x Wᵀ` with x m × k, W n × k and y m × n, row-major f32.
//! Threads split W's rows in chunks; the pool is built once per thread count.

use super::team;
#[cfg(target_arch = "x86_64")]
use super::x86;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Weight floats per parallel task (256 KiB, rounded to whole tiles of rows): large enough
/// that a task outlasts taking it, small enough that a slow thread's share is taken over.
const CHUNK_FLOATS: usize = 1 << 16;

/// The weight rows of one x86 tile (chunks are whole tiles, so only the last one has a tail).
fn x86_tile() -> usize {
    #[cfg(target_arch = "x86_64")]
    return x86::R;
    #[cfg(not(target_arch = "x86_64"))]
    return 1;
}

/// The instruction set the kernels use on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F, 16 lanes.
    Avx512,
    /// AVX2 with FMA, 8 lanes.
    Avx2,
    /// Plain Rust (what the compiler vectorises for the target's baseline).
    Portable,
}

/// The best instruction set this CPU supports.
pub fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Isa::Avx2;
        }
    }
    Isa::Portable
}

/// Why [`xwt`] refused its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "skinny x·Wᵀ: {}", self.0)
    }
}

impl std::error::Error for ShapeError {}

/// One product, shared by the threads that compute it: the operands as raw pointers, and
/// the chunks of weight rows handed out (`next`) and finished (`done`).
pub(super) struct Job {
    isa: Isa,
    x: *const f32,
    w: *const f32,
    y: *mut f32,
    /// Rows of x, inner size, rows of W.
    mnk: (usize, usize, usize),
    /// Weight rows per chunk, and chunks.
    rows: usize,
    chunks: usize,
    next: AtomicUsize,
    done: AtomicUsize,
}

// SAFETY: the pointers are dereferenced only for a chunk taken from `next` (each once, each
// writing its own columns of y), and the call that owns the operands returns only after
// `done` counts every chunk; a helper that starts later takes none and touches nothing.
unsafe impl Send for Job {}
unsafe impl Sync for Job {}

impl team::Chunked for Job {
    fn chunks(&self) -> usize {
        self.chunks
    }

    fn finished(&self) -> usize {
        self.done.load(Ordering::Acquire)
    }

    /// Takes chunks until none is left.
    fn work(&self) {
        let (m, n, k) = self.mnk;
        loop {
            let c = self.next.fetch_add(1, Ordering::Relaxed);
            if c >= self.chunks {
                return;
            }
            let span = (c * self.rows, ((c + 1) * self.rows).min(n));
            // SAFETY: see `impl Sync for Job`; the lengths were checked by `xwt_with` and the
            // instruction set against the CPU.
            unsafe { block(self.isa, self.x, self.w, self.y, (m, n, k), span) };
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

/// `y[i, j] = x[i, :] · w[j, :]` for rows i < m, columns `j0..j1`, on `isa`.
///
/// # Safety
/// `x` is m × k, `w` at least j1 × k, `y` m × n with j1 ≤ n, no other thread writes those
/// outputs; `isa` is supported.
unsafe fn block(
    isa: Isa,
    x: *const f32,
    w: *const f32,
    y: *mut f32,
    (m, n, k): (usize, usize, usize),
    (j0, j1): (usize, usize),
) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => x86::block_avx512(x, w, y, m, k, n, j0, j1),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => x86::block_avx2(x, w, y, m, k, n, j0, j1),
        _ => {
            let x = std::slice::from_raw_parts(x, m * k);
            for j in j0..j1 {
                let wr = std::slice::from_raw_parts(w.add(j * k), k);
                for i in 0..m {
                    *y.add(i * n + j) = dot(&x[i * k..(i + 1) * k], wr);
                }
            }
        }
    }
}

/// A dot product with 8 independent partial sums (vectorised by the compiler).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<8>(a, b)
}

/// Sum of `a[i]·b[i]` with `L` independent partial sums, so the compiler vectorises it
/// (floats are not reassociated otherwise); the order of the sums is fixed by `L`.
#[inline(always)]
pub fn dot_lanes<const L: usize>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; L];
    let (ac, bc) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(p, q)| p * q)
        .sum();
    for (p, q) in ac.zip(bc) {
        for l in 0..L {
            acc[l] += p[l] * q[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `y = x Wᵀ`: `x` is m × k, `w` n × k and `y` m × n, all row-major; on `threads` threads
/// (the caller and kept helpers; 1: the calling thread only), with the instruction set `isa` (see [`detect`]; an
/// unsupported one falls back to [`Isa::Portable`]).
///
/// Chunks of weight rows go to whichever thread asks next, so a thread the OS has
/// descheduled (a shared machine) delays the product by at most the chunk it holds.
pub fn xwt_with(
    isa: Isa,
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    (m, n, k): (usize, usize, usize),
    threads: usize,
) -> Result<(), ShapeError> {
    if x.len() != m * k || w.len() != n * k || y.len() != m * n {
        return Err(ShapeError(format!(
            "lengths x {} w {} y {} do not fit m {m} n {n} k {k}",
            x.len(),
            w.len(),
            y.len()
        )));
    }
    let isa = match (isa, detect()) {
        (Isa::Avx512, Isa::Avx512) => Isa::Avx512,
        (Isa::Avx512 | Isa::Avx2, Isa::Avx512 | Isa::Avx2) => Isa::Avx2,
        _ => Isa::Portable,
    };
    let rows = (CHUNK_FLOATS / k.max(1)).max(1).div_ceil(x86_tile()) * x86_tile();
    let chunks = n.div_ceil(rows);
    let job = Arc::new(Job {
        isa,
        x: x.as_ptr(),
        w: w.as_ptr(),
        y: y.as_mut_ptr(),
        mnk: (m, n, k),
        rows,
        chunks,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
    });
    team::run(&job, threads);
    Ok(())
}

/// [`xwt_with`] on the best instruction set of this CPU.
pub fn xwt(
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    mnk: (usize, usize, usize),
    threads: usize,
) -> Result<(), ShapeError> {
    xwt_with(detect(), x, w, y, mnk, threads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The instruction sets this CPU can run, best first.
    fn supported() -> Vec<Isa> {
        match detect() {
            Isa::Avx512 => vec![Isa::Avx512, Isa::Avx2, Isa::Portable],
            Isa::Avx2 => vec![Isa::Avx2, Isa::Portable],
            Isa::Portable => vec![Isa::Portable],
        }
    }

    /// Every instruction set and thread count against an f64 reference, on shapes with odd
    /// k, k below one vector, n not a multiple of the tile or chunk, and m = 1..=16.
    #[test]
    fn equals_the_f64_product_on_ragged_shapes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let shapes = [
            (1, 1, 1),
            (3, 5, 7),
            (16, 9, 33),
            (8, 577, 576),
            (5, 1030, 129),
        ];
        let extra: Vec<_> = (1..=16).map(|m| (m, 261, 40 + m)).collect();
        for &(m, n, k) in shapes.iter().chain(&extra) {
            let x: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let w: Vec<f32> = (0..n * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            for isa in supported() {
                for threads in [1, 2, 3] {
                    let mut y = vec![f32::NAN; m * n];
                    xwt_with(isa, &x, &w, &mut y, (m, n, k), threads).unwrap();
                    for i in 0..m {
                        for j in 0..n {
                            let r: f64 = (0..k)
                                .map(|p| x[i * k + p] as f64 * w[j * k + p] as f64)
                                .sum();
                            let e = (y[i * n + j] as f64 - r).abs();
                            assert!(
                                e <= 1e-5 * (k as f64).sqrt().max(1.0),
                                "{isa:?} t{threads} m{m} n{n} k{k} [{i},{j}]: {} vs {r}",
                                y[i * n + j]
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_lengths_are_an_error() {
        let mut y = vec![0.0; 6];
        assert!(xwt(&[0.0; 6], &[0.0; 9], &mut y, (2, 3, 3), 1).is_ok());
        assert!(xwt(&[0.0; 5], &[0.0; 9], &mut y, (2, 3, 3), 1).is_err());
        assert!(xwt(&[0.0; 6], &[0.0; 8], &mut y, (2, 3, 3), 2).is_err());
        assert!(xwt(&[0.0; 6], &[0.0; 9], &mut y[..5], (2, 3, 3), 1).is_err());
    }
}
