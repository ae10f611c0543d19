//! A decoder layer's parameters as f32 slices of the tensors' own memory, for
//! [`super::Policy::decode_step`].

use super::Dims;
use crate::model::layer::Block;
use crate::model::linear::Linear;
use crate::model::skinny::floats;
use tch::Tensor;

/// One layer's parameters.
pub struct LayerWeights<'a> {
    /// `input_layernorm` gain [d].
    pub input_norm: &'a [f32],
    /// q/k/v stacked [(h + 2 kv) hd, d].
    pub qkv: &'a [f32],
    /// q/k/v biases [(h + 2 kv) hd], if the layout has them.
    pub qkv_bias: Option<&'a [f32]>,
    /// Qwen3's per-head gains of queries and keys [hd].
    pub qk_norm: Option<(&'a [f32], &'a [f32])>,
    /// `o_proj` [d, h hd].
    pub o: &'a [f32],
    /// `o_proj`'s bias [d].
    pub o_bias: Option<&'a [f32]>,
    /// `post_attention_layernorm` gain [d].
    pub post_norm: &'a [f32],
    /// gate/up stacked [2 f, d].
    pub gate_up: &'a [f32],
    /// gate/up biases [2 f].
    pub gate_up_bias: Option<&'a [f32]>,
    /// `down_proj` [d, f].
    pub down: &'a [f32],
    /// `down_proj`'s bias [d].
    pub down_bias: Option<&'a [f32]>,
}

/// `Some(None)` without a bias, `Some(Some(b))` with one of `n` floats, `None` otherwise.
fn bias(t: Option<&Tensor>, n: usize) -> Option<Option<&[f32]>> {
    match t {
        None => Some(None),
        Some(t) => floats(t).filter(|b| b.len() == n).map(Some),
    }
}

/// `t`'s floats when there are exactly `n`.
fn sized(t: &Tensor, n: usize) -> Option<&[f32]> {
    floats(t).filter(|s| s.len() == n)
}

/// Whether a projection's LoRA adapter takes part in the forward pass.
fn adapted(l: &Linear) -> bool {
    l.lora
        .as_ref()
        .is_some_and(|a| a.on.load(std::sync::atomic::Ordering::Relaxed))
}

impl<'a> LayerWeights<'a> {
    /// The parameters of `block` for the shapes `s`, or `None` when an adapter is active or
    /// a tensor is not a contiguous f32 CPU tensor of the expected size.
    pub fn of(block: &'a Block, s: &Dims) -> Option<Self> {
        if block.linears().iter().any(|(_, l)| adapted(l)) {
            return None;
        }
        let (a, m) = (&block.attn, &block.mlp);
        let (d, hd, f) = (s.d, s.hd, s.f);
        let width = (s.h + 2 * s.kv) * hd;
        if s.kv == 0 || !s.h.is_multiple_of(s.kv) || !hd.is_multiple_of(2) {
            return None;
        }
        let qk_norm = match &a.qk_norm {
            None => None,
            Some((q, k)) => Some((sized(q, hd)?, sized(k, hd)?)),
        };
        Some(LayerWeights {
            input_norm: sized(&block.input_norm, d)?,
            qkv: sized(&a.qkv.weight, width * d)?,
            qkv_bias: bias(a.qkv.bias.as_ref(), width)?,
            qk_norm,
            o: sized(&a.o_proj.weight, d * s.h * hd)?,
            o_bias: bias(a.o_proj.bias.as_ref(), d)?,
            post_norm: sized(&block.post_norm, d)?,
            gate_up: sized(&m.gate_up.weight, 2 * f * d)?,
            gate_up_bias: bias(m.gate_up.bias.as_ref(), 2 * f)?,
            down: sized(&m.down_proj.weight, d * f)?,
            down_bias: bias(m.down_proj.bias.as_ref(), d)?,
        })
    }
}
