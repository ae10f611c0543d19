//! One decoder layer in the Llama / Qwen2 / Qwen3 layout (Touvron et al. 2023, "LLaMA", §2.2):
//! pre-norm RMSNorm, rotary self-attention with grouped-query heads (Qwen3: per-head RMSNorm of
//! queries and keys before the rotation), SwiGLU MLP, residuals.

use super::fused::Fused;
use super::linear::Linear;
use super::rope::apply_rope;
use crate::error::Result;
use tch::{Kind, Tensor};

/// RMSNorm (Zhang & Sennrich 2019, Eq. 4): `x / sqrt(mean(x²) + ε) · g`. In f32/f64 the
/// fused libtorch kernel is used; in bf16 the statistics are taken in f32 and the result is
/// rounded to bf16 before the gain, exactly as `transformers`' `LlamaRMSNorm`.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    let d = *x.size().last().unwrap_or(&1);
    if x.kind() != Kind::BFloat16 && x.kind() != Kind::Half {
        return Ok(x.f_rms_norm(&[d][..], Some(weight), eps)?);
    }
    let xf = x.f_to_kind(Kind::Float)?;
    let var = xf.f_square()?.f_mean_dim(-1, true, Kind::Float)?;
    let normed = xf.f_mul(&var.f_add_scalar(eps)?.f_rsqrt()?)?;
    Ok(normed.f_to_kind(x.kind())?.f_mul(weight)?)
}

/// How keys are masked for one forward call.
pub struct AttnMask {
    /// Boolean [B, 1, T, S] "may attend" mask, or `None` when plain causal (or, for one
    /// query token, full) attention over the S keys is exact.
    pub mask: Option<Tensor>,
    /// Use the causal kernel (queries and keys aligned, no mask).
    pub causal: bool,
}

/// Per-layer preallocated key/value storage [B, kv_heads, capacity, head_dim] written in place.
pub struct LayerCache<'a> {
    /// Keys.
    pub k: &'a mut Tensor,
    /// Values.
    pub v: &'a mut Tensor,
    /// First slot this call writes.
    pub start: i64,
    /// Decoding without autograd: compute the projections that share an input from their
    /// fused block ([`Fused`]) and the others by [`Linear::forward_decode`].
    pub fused: bool,
}

/// Grouped-query self-attention (Ainslie et al. 2023) with rotary positions.
#[derive(Debug)]
pub struct Attention {
    /// Query projection.
    pub q_proj: Linear,
    /// Key projection.
    pub k_proj: Linear,
    /// Value projection.
    pub v_proj: Linear,
    /// Output projection.
    pub o_proj: Linear,
    /// The block holding q/k/v's weights (and biases), for decoding.
    pub qkv: Fused,
    /// Query heads.
    pub heads: i64,
    /// Key/value heads.
    pub kv_heads: i64,
    /// Head width.
    pub head_dim: i64,
    /// Qwen3: RMSNorm gains [head_dim] of queries and keys (`q_norm.weight`, `k_norm.weight`).
    pub qk_norm: Option<(Tensor, Tensor)>,
    /// ε of the q/k norms.
    pub eps: f64,
}

impl Attention {
    /// softmax(QKᵀ/√d_h + mask)·V over the cached and new keys (Vaswani et al. 2017, Eq. 1).
    pub fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &AttnMask,
        cache: Option<LayerCache<'_>>,
    ) -> Result<Tensor> {
        let (b, t) = (x.size()[0], x.size()[1]);
        let split = |y: Tensor, h: i64, norm: Option<&Tensor>| -> Result<Tensor> {
            let y = y.f_view([b, t, h, self.head_dim])?;
            let y = match norm {
                Some(g) => rms_norm(&y, g, self.eps)?,
                None => y,
            };
            Ok(y.f_transpose(1, 2)?)
        };
        let (qn, kn) = match &self.qk_norm {
            Some((q, k)) => (Some(q), Some(k)),
            None => (None, None),
        };
        let fused = cache.as_ref().is_some_and(|c| c.fused);
        let (q, k, v) = if fused {
            let mut y = self
                .qkv
                .forward(x, &[&self.q_proj, &self.k_proj, &self.v_proj])?
                .into_iter();
            let mut next = || y.next().expect("three parts");
            (next(), next(), next())
        } else {
            (
                self.q_proj.forward(x)?,
                self.k_proj.forward(x)?,
                self.v_proj.forward(x)?,
            )
        };
        let q = split(q, self.heads, qn)?;
        let k = split(k, self.kv_heads, kn)?;
        let v = split(v, self.kv_heads, None)?;
        let q = apply_rope(&q, cos, sin)?;
        let k = apply_rope(&k, cos, sin)?;
        let (k, v) = match cache {
            None => (k, v),
            Some(c) => {
                c.k.f_narrow(2, c.start, t)?.f_copy_(&k)?;
                c.v.f_narrow(2, c.start, t)?.f_copy_(&v)?;
                (
                    c.k.f_narrow(2, 0, c.start + t)?,
                    c.v.f_narrow(2, 0, c.start + t)?,
                )
            }
        };
        let gqa = self.kv_heads != self.heads;
        let y = Tensor::f_scaled_dot_product_attention(
            &q,
            &k,
            &v,
            mask.mask.as_ref(),
            0.0,
            mask.causal,
            None,
            gqa,
        )?;
        let y = y
            .f_transpose(1, 2)?
            .f_reshape([b, t, self.heads * self.head_dim])?;
        if fused {
            self.o_proj.forward_decode(&y)
        } else {
            self.o_proj.forward(&y)
        }
    }
}

/// The SwiGLU MLP (Shazeer 2020, Eq. 6): `down(silu(gate(x)) ⊙ up(x))`.
#[derive(Debug)]
pub struct Mlp {
    /// Gate projection.
    pub gate_proj: Linear,
    /// Up projection.
    pub up_proj: Linear,
    /// Down projection.
    pub down_proj: Linear,
    /// The block holding gate's and up's weights (and biases), for decoding.
    pub gate_up: Fused,
}

impl Mlp {
    /// Applies the MLP; `fused` (no autograd): gate and up from their block ([`Fused`]), down
    /// by [`Linear::forward_decode`].
    pub fn forward(&self, x: &Tensor, fused: bool) -> Result<Tensor> {
        let (g, u) = if fused {
            let mut y = self
                .gate_up
                .forward(x, &[&self.gate_proj, &self.up_proj])?
                .into_iter();
            let mut next = || y.next().expect("two parts");
            (next(), next())
        } else {
            (self.gate_proj.forward(x)?, self.up_proj.forward(x)?)
        };
        let h = g.f_silu()?.f_mul(&u)?;
        if fused {
            self.down_proj.forward_decode(&h)
        } else {
            self.down_proj.forward(&h)
        }
    }
}

/// One pre-norm decoder layer: `h = x + attn(norm₁(x))`, `out = h + mlp(norm₂(h))`.
#[derive(Debug)]
pub struct Block {
    /// `input_layernorm.weight`.
    pub input_norm: Tensor,
    /// Self-attention.
    pub attn: Attention,
    /// `post_attention_layernorm.weight`.
    pub post_norm: Tensor,
    /// MLP.
    pub mlp: Mlp,
}

impl Block {
    /// Applies the layer.
    pub fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &AttnMask,
        cache: Option<LayerCache<'_>>,
        eps: f64,
    ) -> Result<Tensor> {
        let fused = cache.as_ref().is_some_and(|c| c.fused);
        let h = x.f_add(&self.attn.forward(
            &rms_norm(x, &self.input_norm, eps)?,
            cos,
            sin,
            mask,
            cache,
        )?)?;
        Ok(h.f_add(
            &self
                .mlp
                .forward(&rms_norm(&h, &self.post_norm, eps)?, fused)?,
        )?)
    }

    /// The projections of this layer, by their Hugging Face short names.
    pub fn linears_mut(&mut self) -> [(&'static str, &mut Linear); 7] {
        [
            ("q_proj", &mut self.attn.q_proj),
            ("k_proj", &mut self.attn.k_proj),
            ("v_proj", &mut self.attn.v_proj),
            ("o_proj", &mut self.attn.o_proj),
            ("gate_proj", &mut self.mlp.gate_proj),
            ("up_proj", &mut self.mlp.up_proj),
            ("down_proj", &mut self.mlp.down_proj),
        ]
    }

    /// The projections of this layer, by their Hugging Face short names.
    pub fn linears(&self) -> [(&'static str, &Linear); 7] {
        [
            ("q_proj", &self.attn.q_proj),
            ("k_proj", &self.attn.k_proj),
            ("v_proj", &self.attn.v_proj),
            ("o_proj", &self.attn.o_proj),
            ("gate_proj", &self.mlp.gate_proj),
            ("up_proj", &self.mlp.up_proj),
            ("down_proj", &self.mlp.down_proj),
        ]
    }
}
