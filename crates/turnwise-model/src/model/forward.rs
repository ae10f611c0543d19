//! The forward pass: embeddings → decoder layers → final RMSNorm → LM head, over fresh
//! sequences (training, scoring) or appended to a [`KvCache`] (generation).

use super::cache::KvCache;
use super::layer::{rms_norm, AttnMask, LayerCache};
use super::Policy;
use crate::error::Result;
use tch::{Kind, Tensor};

/// The attention mask for T new tokens in slots `start..start+T` of S = start+T keys:
/// query i may see key j iff j ≤ start+i and (key j is real or j is the query itself; the
/// self term keeps padded query rows finite).
fn build_mask(start: i64, t: i64, keep: Option<&Tensor>, device: tch::Device) -> Result<AttnMask> {
    if keep.is_none() && (t == 1 || start == 0) {
        return Ok(AttnMask {
            mask: None,
            causal: t > 1,
        });
    }
    let s = start + t;
    let kidx = Tensor::f_arange(s, (Kind::Int64, device))?.f_unsqueeze(0)?;
    let qslot = Tensor::f_arange_start(start, s, (Kind::Int64, device))?.f_unsqueeze(1)?;
    let causal = kidx.f_le_tensor(&qslot)?; // [T, S]
    let mask = match keep {
        None => causal.f_view([1, 1, t, s])?,
        Some(keep) => {
            let own = kidx.f_eq_tensor(&qslot)?.f_unsqueeze(0)?; // [1, T, S]
            let real = keep.f_unsqueeze(1)?.f_logical_or(&own)?; // [B, T, S]
            real.f_logical_and(&causal.f_unsqueeze(0)?)?
                .f_unsqueeze(1)?
        }
    };
    Ok(AttnMask {
        mask: Some(mask),
        causal: false,
    })
}

impl Policy {
    /// Final hidden states [B, T, d] for token ids [B, T] (int64) at positions [B, T].
    ///
    /// `keep` ([B, T] bool, true = real token) marks padding; pass `None` when there is none
    /// or when padding only follows the real tokens (right padding), which causal attention
    /// already ignores. With a `cache`, the tokens are appended after its filled slots and
    /// attend to everything cached. Without one, under autograd and with activation
    /// checkpointing on, the layers' gradients come from [`Policy::backward`].
    pub fn forward_hidden(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        keep: Option<&Tensor>,
        cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        let t = ids.size()[1];
        let kind = self.dtype().kind();
        let (cos, sin) = self.rope.cos_sin(positions, kind)?;
        let mut x = Tensor::f_embedding(&self.embed, ids, -1, false, false)?;
        let eps = self.config.rms_norm_eps;
        match cache {
            None => {
                let mask = build_mask(0, t, keep, self.device())?;
                if self.checkpointing && super::recompute::grad_enabled() {
                    x = self.checkpointed_layers(ids, x, &cos, &sin, mask)?;
                } else {
                    for layer in &self.layers {
                        x = layer.forward(&x, &cos, &sin, &mask, None, eps)?;
                    }
                }
            }
            Some(cache) => {
                cache.reserve(t as usize)?;
                let start = cache.len;
                if let Some(k) = keep {
                    cache.keep.f_narrow(1, start, t)?.f_copy_(k)?;
                    cache.padded = true;
                } else {
                    let _ = cache.keep.f_narrow(1, start, t)?.f_fill_(1)?;
                }
                let all = cache.keep.f_narrow(1, 0, start + t)?;
                let mask = build_mask(start, t, cache.padded.then_some(&all), self.device())?;
                let fused = !super::recompute::grad_enabled();
                for (i, layer) in self.layers.iter().enumerate() {
                    let lc = LayerCache {
                        k: &mut cache.k[i],
                        v: &mut cache.v[i],
                        start,
                        fused,
                    };
                    x = layer.forward(&x, &cos, &sin, &mask, Some(lc), eps)?;
                }
                cache.len += t;
            }
        }
        rms_norm(&x, &self.norm, eps)
    }

    /// Logits [.., V] from hidden states (`lm_head`, or the tied embedding matrix).
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        match &self.lm_head {
            Some(h) => h.forward(hidden),
            None => Ok(hidden.f_linear::<Tensor>(&self.embed, None)?),
        }
    }

    /// Logits [B, V] of one position per row ([B, d] hidden states), for decoding. For a
    /// few rows `W hᵀ` is computed instead of `h Wᵀ`: MKL's sgemm then streams the
    /// [V, d] head as its left operand instead of repacking it as the right one on every
    /// call, which halves the cost of SmolLM2's 49,152 × 576 head at 8 rows (docs/model.md,
    /// "Generation speed"); f32 on the CPU with up to 16 rows uses the few-row kernel
    /// ([`super::skinny`]). The values equal [`Policy::logits`] up to float rounding. With
    /// autograd on, this is [`Policy::logits`].
    pub fn decode_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let w = match &self.lm_head {
            None => &self.embed,
            Some(h) if h.lora.is_none() && h.bias.is_none() => &h.weight,
            Some(_) => return self.logits(hidden),
        };
        if hidden.dim() != 2 || super::recompute::grad_enabled() {
            return self.logits(hidden);
        }
        super::fused::matmul_wt(hidden, w)
    }

    /// Logits [B, T, V]; see [`Policy::forward_hidden`] for the arguments.
    pub fn forward(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        keep: Option<&Tensor>,
        cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        let h = self.forward_hidden(ids, positions, keep, cache)?;
        self.logits(&h)
    }
}
