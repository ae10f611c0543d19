//! The x86-64 tiles of [`super::xwt`]: each tile computes R outputs of C rows — R weight rows
//! against C rows of `x` — with one vector accumulator per output, so a k-step loads R + C
//! vectors for R·C fused multiply-adds, and the weight rows of a block, once read from memory,
//! are served from L1 for the next C rows of `x`. Compiled for AVX-512F and for AVX2 + FMA;
//! [`super::block`] picks one at run time.

use std::arch::x86_64::*;

/// Weight rows per tile.
pub const R: usize = 4;

/// Prefetch the next tile's weight rows while the first rows of x go through a tile.
const PREFETCH: bool = true;

/// Emits a tile function and the block function that sweeps a range of weight rows with it,
/// for one instruction set: `$lanes` floats per vector and its load / fma / reduce / zero.
macro_rules! kernels {
    ($feat:literal, $tile:ident, $block:ident, $cmax:literal, $lanes:literal, $zero:ident,
     $load:ident, $fma:ident, $reduce:path) => {
        /// R·C outputs `y[i + c, j + r] = x[i + c, :] · w[j + r, :]` (`ldy` = row stride of y).
        ///
        /// # Safety
        /// The CPU supports the instruction set; `x` holds rows `i..i + C` and `w` rows
        /// `j..j + RR` of `k` floats each, and `y` is valid for those outputs.
        #[target_feature(enable = $feat)]
        #[inline]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $tile<const RR: usize, const C: usize>(
            x: *const f32,
            w: *const f32,
            y: *mut f32,
            k: usize,
            ldy: usize,
            i: usize,
            j: usize,
            pf: bool,
        ) {
            let mut acc = [[$zero(); C]; RR];
            let mut p = 0;
            while p + $lanes <= k {
                let mut xv = [$zero(); C];
                for (c, v) in xv.iter_mut().enumerate() {
                    *v = $load(x.add((i + c) * k + p));
                }
                for (r, row) in acc.iter_mut().enumerate() {
                    if pf {
                        // The next tile's rows, one cache line per load: a hint, never a
                        // fault, so past the end of w it is harmless (wrapping_add: no UB).
                        _mm_prefetch::<_MM_HINT_T0>(
                            w.wrapping_add((j + RR + r) * k + p) as *const i8
                        );
                    }
                    let wv = $load(w.add((j + r) * k + p));
                    for (a, v) in row.iter_mut().zip(xv.iter()) {
                        *a = $fma(wv, *v, *a);
                    }
                }
                p += $lanes;
            }
            for (r, row) in acc.iter().enumerate() {
                for (c, a) in row.iter().enumerate() {
                    let mut s = $reduce(*a);
                    for q in p..k {
                        s += *w.add((j + r) * k + q) * *x.add((i + c) * k + q);
                    }
                    *y.add((i + c) * ldy + j + r) = s;
                }
            }
        }

        /// `y[i, j] = x[i, :] · w[j, :]` for every row i < m of x and j in `j0..j1`.
        ///
        /// # Safety
        /// The CPU supports the instruction set; `x` is m × k, `w` at least j1 × k and `y`
        /// m × ldy with ldy ≥ j1.
        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn $block(
            x: *const f32,
            w: *const f32,
            y: *mut f32,
            m: usize,
            k: usize,
            ldy: usize,
            j0: usize,
            j1: usize,
        ) {
            let mut j = j0;
            while j < j1 {
                let full = j + R <= j1;
                let mut i = 0;
                while i < m {
                    let c = (m - i).min($cmax);
                    macro_rules! go {
                        ($c:literal) => {
                            if full {
                                $tile::<R, $c>(x, w, y, k, ldy, i, j, PREFETCH && i == 0)
                            } else {
                                for jj in j..j1 {
                                    $tile::<1, $c>(x, w, y, k, ldy, i, jj, false)
                                }
                            }
                        };
                    }
                    match c {
                        1 => go!(1),
                        2 => go!(2),
                        3 => go!(3),
                        _ => go!(4),
                    }
                    i += c;
                }
                j = if full { j + R } else { j1 };
            }
        }
    };
}

/// Horizontal sum of 8 lanes.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn hsum256(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}

kernels!(
    "avx512f",
    tile512,
    block_avx512,
    4,
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_reduce_add_ps
);

kernels!(
    "avx2,fma",
    tile256,
    block_avx2,
    2,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_fmadd_ps,
    hsum256
);
