//! The small operations of one decoding step on plain f32 slices, each the counterpart of a
//! torch operation of the layer's forward pass ([`crate::model::layer`]): RMSNorm, the rotary
//! rotation, attention of one query over the cached keys, SwiGLU's `silu(g) ⊙ u`.

/// Sum of `a[i]·b[i]` with 16 independent partial sums (vectorised by the compiler).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    crate::model::skinny::dot_lanes::<16>(a, b)
}

/// RMSNorm (Zhang & Sennrich 2019, Eq. 4) of every row of `x` (rows of `g.len()` floats) in
/// place: `x / sqrt(mean(x²) + ε) · g`.
pub fn rms_norm(x: &mut [f32], g: &[f32], eps: f64) {
    for row in x.chunks_exact_mut(g.len()) {
        let ms = dot(row, row) as f64 / g.len() as f64;
        let r = (1.0 / (ms + eps).sqrt()) as f32;
        for (v, w) in row.iter_mut().zip(g) {
            *v = *v * r * w;
        }
    }
}

/// The rotary rotation (Su et al. 2021) of every head of `x` (heads of `cos.len()` floats)
/// in place, in the "rotate half" layout: `x·cos + rotate_half(x)·sin`, where
/// `rotate_half(x) = (−x₂, x₁)` for the halves x₁, x₂ of a head.
pub fn rope(x: &mut [f32], cos: &[f32], sin: &[f32]) {
    let half = cos.len() / 2;
    for head in x.chunks_exact_mut(cos.len()) {
        for i in 0..half {
            let (a, b) = (head[i], head[i + half]);
            head[i] = a * cos[i] - b * sin[i];
            head[i + half] = b * cos[i + half] + a * sin[i + half];
        }
    }
}

/// `g ← silu(g) ⊙ u = g / (1 + e^(−g)) · u` elementwise (SwiGLU's gate, Shazeer 2020).
pub fn silu_mul(g: &mut [f32], u: &[f32]) {
    for (a, b) in g.iter_mut().zip(u) {
        *a = *a / (1.0 + (-*a).exp()) * b;
    }
}

/// `x ← x + y` elementwise.
pub fn add(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// softmax(q·Kᵀ/√d)·V for one query `q` [d] over the keys and values `k`, `v` [S, d] of
/// the slots j < S that are `seen[j] != 0` or `own` (the query's own slot); written to
/// `out` [d]. `scores` is scratch of S floats. Vectorised for AVX-512F or AVX2 + FMA when
/// the CPU has them.
pub fn attend(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    seen: &[u8],
    own: usize,
    scores: &mut [f32],
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::model::skinny::{detect, Isa};
        match detect() {
            // SAFETY: the CPU has the instruction set (run-time detection).
            Isa::Avx512 => return unsafe { attend_avx512(q, k, v, seen, own, scores, out) },
            // SAFETY: as above.
            Isa::Avx2 => return unsafe { attend_avx2(q, k, v, seen, own, scores, out) },
            Isa::Portable => {}
        }
    }
    attend_body(q, k, v, seen, own, scores, out)
}

/// [`attend`] compiled for AVX-512F.
///
/// # Safety
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn attend_avx512(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    seen: &[u8],
    own: usize,
    scores: &mut [f32],
    out: &mut [f32],
) {
    attend_body(q, k, v, seen, own, scores, out)
}

/// [`attend`] compiled for AVX2 + FMA.
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_avx2(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    seen: &[u8],
    own: usize,
    scores: &mut [f32],
    out: &mut [f32],
) {
    attend_body(q, k, v, seen, own, scores, out)
}

/// The body of [`attend`], inlined into each instruction set's copy.
#[inline(always)]
fn attend_body(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    seen: &[u8],
    own: usize,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let d = q.len();
    let scale = 1.0 / (d as f32).sqrt();
    let mut max = f32::NEG_INFINITY;
    for (j, (s, kj)) in scores.iter_mut().zip(k.chunks_exact(d)).enumerate() {
        *s = if seen[j] != 0 || j == own {
            dot(q, kj) * scale
        } else {
            f32::NEG_INFINITY
        };
        max = max.max(*s);
    }
    out.fill(0.0);
    if max == f32::NEG_INFINITY {
        return;
    }
    let mut total = 0f32;
    for (s, vj) in scores.iter_mut().zip(v.chunks_exact(d)) {
        if *s == f32::NEG_INFINITY {
            continue;
        }
        let p = (*s - max).exp();
        total += p;
        for (o, x) in out.iter_mut().zip(vj) {
            *o += p * x;
        }
    }
    let inv = 1.0 / total;
    for o in out.iter_mut() {
        *o *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    fn vec(t: &Tensor) -> Vec<f32> {
        Vec::try_from(&t.flatten(0, -1)).unwrap()
    }

    fn close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "[{i}] {x} vs {y}");
        }
    }

    #[test]
    fn each_op_equals_its_torch_counterpart() {
        tch::manual_seed(5);
        let opts = (Kind::Float, Device::Cpu);
        // RMSNorm over rows of 37.
        let x = Tensor::randn([3, 37], opts);
        let g = Tensor::randn([37], opts);
        let mut ours = vec(&x);
        rms_norm(&mut ours, &vec(&g), 1e-5);
        close(&ours, &vec(&x.rms_norm(&[37][..], Some(&g), 1e-5)), 1e-5);
        // Rotary: 2 heads of 8, cos/sin as `Rope::cos_sin` lays them out (two equal halves).
        let x = Tensor::randn([2, 8], opts);
        let f = Tensor::randn([4], opts);
        let emb = Tensor::cat(&[&f, &f], 0);
        let (c, s) = (emb.cos(), emb.sin());
        let mut ours = vec(&x);
        rope(&mut ours, &vec(&c), &vec(&s));
        let rot = Tensor::cat(&[&x.narrow(1, 4, 4).neg(), &x.narrow(1, 0, 4)], 1);
        close(&ours, &vec(&(&x * &c + rot * &s)), 1e-6);
        // silu(g)·u.
        let (g, u) = (Tensor::randn([50], opts), Tensor::randn([50], opts));
        let mut ours = vec(&g);
        silu_mul(&mut ours, &vec(&u));
        close(&ours, &vec(&(g.silu() * &u)), 1e-6);
        // Attention of one query over 9 slots, slots 2 and 5 hidden, 8 its own (not marked seen).
        let (q, k, v) = (
            Tensor::randn([16], opts),
            Tensor::randn([9, 16], opts),
            Tensor::randn([9, 16], opts),
        );
        let seen: Vec<u8> = (0..9).map(|j| (j != 2 && j != 5 && j != 8) as u8).collect();
        let visible = |j: usize| seen[j] != 0 || j == 8;
        let mut scores = [0f32; 9];
        let mut out = [0f32; 16];
        attend(
            &vec(&q),
            &vec(&k),
            &vec(&v),
            &seen,
            8,
            &mut scores,
            &mut out,
        );
        let mask: Vec<bool> = (0..9).map(visible).collect();
        let mask = Tensor::from_slice(&mask).view([1, 1, 1, 9]);
        let want = Tensor::scaled_dot_product_attention(
            &q.view([1, 1, 1, 16]),
            &k.view([1, 1, 9, 16]),
            &v.view([1, 1, 9, 16]),
            Some(&mask),
            0.0,
            false,
            None,
            false,
        );
        close(&out, &vec(&want), 1e-5);
    }

    /// The AVX-512 and AVX2 copies of [`attend`] (whichever this CPU has) equal the portable
    /// body, so a CPU that dispatches to another copy than the test machine's computes the
    /// same attention (S = 37 and d = 40 leave remainders after 16-lane chunks).
    #[test]
    fn every_instruction_set_attends_as_the_portable_body() {
        tch::manual_seed(9);
        let opts = (Kind::Float, Device::Cpu);
        let (q, k, v) = (
            vec(&Tensor::randn([40], opts)),
            vec(&Tensor::randn([37, 40], opts)),
            vec(&Tensor::randn([37, 40], opts)),
        );
        let seen: Vec<u8> = (0..37).map(|j| (j % 5 != 3) as u8).collect();
        let run = |f: &dyn Fn(&mut [f32], &mut [f32])| {
            let (mut scores, mut out) = (vec![0f32; 37], vec![0f32; 40]);
            f(&mut scores, &mut out);
            out
        };
        let want = run(&|s, o| attend_body(&q, &k, &v, &seen, 36, s, o));
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked above).
                let got = run(&|s, o| unsafe { attend_avx512(&q, &k, &v, &seen, 36, s, o) });
                close(&got, &want, 1e-6);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU has AVX2 and FMA (checked above).
                let got = run(&|s, o| unsafe { attend_avx2(&q, &k, &v, &seen, 36, s, o) });
                close(&got, &want, 1e-6);
            }
        }
        let dispatched = run(&|s, o| attend(&q, &k, &v, &seen, 36, s, o));
        close(&dispatched, &want, 1e-6);
    }
}
