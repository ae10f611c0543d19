//! One decoding step (one new token per row, appended to a [`KvCache`]) computed in Rust on
//! the weights' and the cache's memory, for f32 models on the CPU with up to
//! [`skinny::MAX_ROWS`] rows and no active LoRA adapter; [`Policy::decode_step`] declines
//! anything else and the caller then runs the torch forward pass.
//!
//! The products are the few-row kernel's ([`skinny`]), as on the torch path; what this adds
//! is the rest of the layer — RMSNorm, Qwen3's q/k norms, the rotary rotation, the cache
//! write, grouped-query attention over the cached keys, `silu(g) ⊙ u`, the residual adds
//! ([`ops`]) — as plain loops over a few hundred floats per row instead of ≈ 25 torch
//! operations per layer, each of which costs more in dispatch and allocation than in
//! arithmetic at this size (docs/model.md, "Generation speed"). The cache keeps its layout
//! ([B, kv_heads, capacity, head_dim] per layer), so prefill, `append` and row selection are
//! unchanged and the two paths can follow each other in any order.

mod ops;
mod weights;

use super::cache::KvCache;
use super::skinny::{self, floats, floats_mut};
use super::Policy;
use crate::error::Result;
use std::sync::{Mutex, PoisonError};
use tch::{Device, Kind, Tensor};
use weights::LayerWeights;

/// `y = x Wᵀ (+ b)` for `m` rows by the few-row kernel on `threads` threads.
fn product(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    m: usize,
    threads: usize,
) -> Result<()> {
    let k = x.len() / m;
    let n = y.len() / m;
    skinny::xwt(x, w, y, (m, n, k), threads).map_err(|e| tch::TchError::Shape(e.to_string()))?;
    if let Some(b) = bias {
        for row in y.chunks_exact_mut(n) {
            ops::add(row, b);
        }
    }
    Ok(())
}

/// The shapes of a step.
#[derive(Clone, Copy)]
struct Dims {
    /// Rows, model width, query heads, key/value heads, head width, MLP width.
    b: usize,
    d: usize,
    h: usize,
    kv: usize,
    hd: usize,
    f: usize,
    /// Cache slots allocated, and the slot this step writes.
    cap: usize,
    start: usize,
}

impl Policy {
    /// Feeds one token per row (`ids`, at `positions`; `keep[r]` false marks row r's token
    /// as padding that later tokens do not see) through the model, appending its keys and
    /// values to `cache`, and returns the logits [B, V] — what [`Policy::forward_hidden`]
    /// with the cache followed by [`Policy::decode_logits`] of the new position computes, up
    /// to float rounding. `None` (nothing done) unless the model is f32 on the CPU, autograd
    /// is off, no LoRA adapter is active, the lm head has no bias, there are at most
    /// [`skinny::MAX_ROWS`] rows and they match the cache's.
    pub fn decode_step(
        &self,
        ids: &[i64],
        positions: &[i64],
        keep: &[bool],
        cache: &mut KvCache,
    ) -> Result<Option<Tensor>> {
        let c = &self.config;
        let b = ids.len();
        let vocab = c.vocab_size;
        let fits = b > 0
            && b as i64 <= skinny::MAX_ROWS
            && positions.len() == b
            && keep.len() == b
            && cache.batch() == b
            && ids.iter().all(|&i| (0..vocab as i64).contains(&i))
            && self.device() == Device::Cpu
            && self.dtype().kind() == Kind::Float
            && !super::recompute::grad_enabled();
        if !fits {
            return Ok(None);
        }
        let mut dims = Dims {
            b,
            d: c.hidden_size,
            h: c.num_attention_heads,
            kv: c.num_kv_heads(),
            hd: c.head_dim(),
            f: c.intermediate_size,
            cap: 0,
            start: 0,
        };
        let Some(layers) = self
            .layers
            .iter()
            .map(|l| LayerWeights::of(l, &dims))
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        let head = match &self.lm_head {
            None => &self.embed,
            Some(h) if h.lora.is_none() && h.bias.is_none() => &h.weight,
            Some(_) => return Ok(None),
        };
        let (Some(embed), Some(head), Some(norm)) =
            (floats(&self.embed), floats(head), floats(&self.norm))
        else {
            return Ok(None);
        };
        if embed.len() != vocab * dims.d || head.len() != vocab * dims.d || norm.len() != dims.d {
            return Ok(None);
        }
        cache.reserve(1)?;
        dims.cap = cache.capacity();
        dims.start = cache.len();
        let slots = b * dims.kv * dims.cap * dims.hd;
        let cached = |t: &Tensor| floats(t).is_some_and(|s| s.len() == slots);
        let keep_ok = cache.keep.kind() == Kind::Bool
            && cache.keep.is_contiguous()
            && cache.keep.numel() == b * dims.cap;
        if !(keep_ok && cache.k.iter().all(cached) && cache.v.iter().all(cached)) {
            return Ok(None);
        }
        // The rotary tables of this step's positions, [B, 1, 1, head_dim] each.
        let pos = Tensor::f_from_slice(positions)?.f_view([b as i64, 1])?;
        let (cos, sin) = self.rope.cos_sin(&pos, Kind::Float)?;
        let (cos, sin) = (cos.f_contiguous()?, sin.f_contiguous()?);
        let (Some(cos), Some(sin)) = (floats(&cos), floats(&sin)) else {
            return Ok(None);
        };
        // SAFETY: `keep` is a contiguous bool tensor of B × capacity bytes (checked above)
        // owned by the cache, which this call borrows mutably; torch stores bools as 0 or 1.
        let keep_mask = unsafe {
            std::slice::from_raw_parts_mut(cache.keep.data_ptr() as *mut u8, b * dims.cap)
        };
        for (r, &k) in keep.iter().enumerate() {
            keep_mask[r * dims.cap + dims.start] = k as u8;
        }
        let keep_mask: &[u8] = keep_mask;
        if !keep.iter().all(|&k| k) {
            cache.padded = true;
        }
        let mut x = vec![0f32; b * dims.d];
        for (row, &id) in x.chunks_exact_mut(dims.d).zip(ids) {
            let id = id as usize;
            row.copy_from_slice(&embed[id * dims.d..(id + 1) * dims.d]);
        }
        let threads = skinny::threads();
        let eps = c.rms_norm_eps;
        let mut buf = Buffers::new(&dims);
        for (i, l) in layers.iter().enumerate() {
            let kc = floats_mut(&mut cache.k[i]).expect("checked above");
            let vc = floats_mut(&mut cache.v[i]).expect("checked above");
            layer(
                l,
                &dims,
                &mut x,
                &mut buf,
                (kc, vc, keep_mask),
                (cos, sin),
                eps,
                threads,
            )?;
        }
        ops::rms_norm(&mut x, norm, eps);
        let logits = Tensor::f_empty([b as i64, vocab as i64], (Kind::Float, Device::Cpu))?;
        // SAFETY: a freshly allocated contiguous f32 tensor of B × V elements, not aliased.
        let out =
            unsafe { std::slice::from_raw_parts_mut(logits.data_ptr() as *mut f32, b * vocab) };
        product(&x, head, None, out, b, threads)?;
        cache.len += 1;
        Ok(Some(logits))
    }
}

/// Scratch of one step: normed input, q/k/v, attention output, a projection's output, the
/// MLP's gate/up and its activation.
struct Buffers {
    xn: Vec<f32>,
    qkv: Vec<f32>,
    att: Vec<f32>,
    out: Vec<f32>,
    gu: Vec<f32>,
    act: Vec<f32>,
}

impl Buffers {
    fn new(s: &Dims) -> Self {
        Buffers {
            xn: vec![0.0; s.b * s.d],
            qkv: vec![0.0; s.b * (s.h + 2 * s.kv) * s.hd],
            att: vec![0.0; s.b * s.h * s.hd],
            out: vec![0.0; s.b * s.d],
            gu: vec![0.0; s.b * 2 * s.f],
            act: vec![0.0; s.b * s.f],
        }
    }
}

/// One decoder layer for the rows `x` [B, d] in place: `h = x + attn(norm₁(x))`,
/// `x = h + mlp(norm₂(h))`, writing this step's keys and values into slot `start` of
/// the layer's cache (`kc`, `vc` [B, kv, cap, hd]; `keep` [B, cap]).
#[allow(clippy::too_many_arguments)]
fn layer(
    l: &LayerWeights<'_>,
    s: &Dims,
    x: &mut [f32],
    buf: &mut Buffers,
    (kc, vc, keep): (&mut [f32], &mut [f32], &[u8]),
    (cos, sin): (&[f32], &[f32]),
    eps: f64,
    threads: usize,
) -> Result<()> {
    let (hd, cap, start) = (s.hd, s.cap, s.start);
    let width = (s.h + 2 * s.kv) * hd;
    buf.xn.copy_from_slice(x);
    ops::rms_norm(&mut buf.xn, l.input_norm, eps);
    product(&buf.xn, l.qkv, l.qkv_bias, &mut buf.qkv, s.b, threads)?;
    for (r, row) in buf.qkv.chunks_exact_mut(width).enumerate() {
        let (q, kv) = row.split_at_mut(s.h * hd);
        let (k, v) = kv.split_at_mut(s.kv * hd);
        if let Some((qn, kn)) = l.qk_norm {
            ops::rms_norm(q, qn, eps);
            ops::rms_norm(k, kn, eps);
        }
        let (cr, sr) = (&cos[r * hd..(r + 1) * hd], &sin[r * hd..(r + 1) * hd]);
        ops::rope(q, cr, sr);
        ops::rope(k, cr, sr);
        for g in 0..s.kv {
            let at = ((r * s.kv + g) * cap + start) * hd;
            kc[at..at + hd].copy_from_slice(&k[g * hd..(g + 1) * hd]);
            vc[at..at + hd].copy_from_slice(&v[g * hd..(g + 1) * hd]);
        }
    }
    attention(s, &buf.qkv, kc, vc, keep, &mut buf.att, threads);
    product(&buf.att, l.o, l.o_bias, &mut buf.out, s.b, threads)?;
    ops::add(x, &buf.out);
    buf.xn.copy_from_slice(x);
    ops::rms_norm(&mut buf.xn, l.post_norm, eps);
    product(
        &buf.xn,
        l.gate_up,
        l.gate_up_bias,
        &mut buf.gu,
        s.b,
        threads,
    )?;
    for (gu, act) in buf
        .gu
        .chunks_exact(2 * s.f)
        .zip(buf.act.chunks_exact_mut(s.f))
    {
        act.copy_from_slice(&gu[..s.f]);
        ops::silu_mul(act, &gu[s.f..]);
    }
    product(&buf.act, l.down, l.down_bias, &mut buf.out, s.b, threads)?;
    ops::add(x, &buf.out);
    Ok(())
}

/// Grouped-query attention (Ainslie et al. 2023) of every row's queries (in `qkv`, rows of
/// (h + 2 kv) hd) over its cached slots `0..=start` into `att` [B, h hd]: one task per row and
/// key/value head (its `h / kv` query heads), spread over `threads`.
fn attention(
    s: &Dims,
    qkv: &[f32],
    kc: &[f32],
    vc: &[f32],
    keep: &[u8],
    att: &mut [f32],
    threads: usize,
) {
    let (hd, cap, start) = (s.hd, s.cap, s.start);
    let width = (s.h + 2 * s.kv) * hd;
    let group = s.h / s.kv;
    let slots = start + 1;
    // Task t = r·kv + g writes query heads g·group.. of row r: one contiguous block of att.
    let outs: Vec<Mutex<&mut [f32]>> = att.chunks_mut(group * hd).map(Mutex::new).collect();
    skinny::for_each_task(s.b * s.kv, threads, &|t| {
        let (r, g) = (t / s.kv, t % s.kv);
        let mut out = outs[t].lock().unwrap_or_else(PoisonError::into_inner);
        let mut scores = vec![0f32; slots];
        let base = (r * s.kv + g) * cap * hd;
        let (keys, values) = (&kc[base..base + slots * hd], &vc[base..base + slots * hd]);
        let seen = &keep[r * cap..r * cap + slots];
        for i in 0..group {
            let at = r * width + (g * group + i) * hd;
            let q = &qkv[at..at + hd];
            let o = &mut out[i * hd..(i + 1) * hd];
            ops::attend(q, keys, values, seen, start, &mut scores, o);
        }
    });
}
