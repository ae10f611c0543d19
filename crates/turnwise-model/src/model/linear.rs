//! A linear projection `y = x Wᵀ + b` with an optional LoRA adapter
//! (Hu et al. 2021, "LoRA", Eq. 3: `h = W₀x + (α/r)·B A x`, B initialised to zero).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::Result;
use tch::Tensor;

/// A LoRA adapter: `A` is r × in, `B` is out × r, scaled by α/r.
#[derive(Debug)]
pub struct Lora {
    /// Down projection A (r × in).
    pub a: Tensor,
    /// Up projection B (out × r), zero at start so the adapted model equals the base.
    pub b: Tensor,
    /// α / r.
    pub scale: f64,
    /// Whether the adapter takes part in the forward pass (one switch shared by every
    /// adapter of a model: off gives the base model, LoRA's KL reference without a copy).
    pub on: Arc<AtomicBool>,
}

/// A projection with Hugging Face names `<prefix>.weight` / `<prefix>.bias`.
#[derive(Debug)]
pub struct Linear {
    /// Parameter-name prefix, e.g. `model.layers.0.self_attn.q_proj`.
    pub name: String,
    /// W (out × in).
    pub weight: Tensor,
    /// b (out), if the layout has one.
    pub bias: Option<Tensor>,
    /// The adapter, once attached.
    pub lora: Option<Lora>,
}

impl Linear {
    /// `x Wᵀ + b (+ (α/r) x Aᵀ Bᵀ)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.f_linear(&self.weight, self.bias.as_ref())?;
        self.add_adapter(x, y)
    }

    /// [`Linear::forward`] without autograd, for decoding: the product by
    /// [`super::fused::linear_decode`] (few rows: no repacking of W), then the adapter.
    pub fn forward_decode(&self, x: &Tensor) -> Result<Tensor> {
        let y = super::fused::linear_decode(x, &self.weight, self.bias.as_ref())?;
        self.add_adapter(x, y)
    }

    /// `y + (α/r) x Aᵀ Bᵀ` when the adapter is attached and on, else `y`.
    pub fn add_adapter(&self, x: &Tensor, y: Tensor) -> Result<Tensor> {
        match &self.lora {
            Some(l) if l.on.load(Ordering::Relaxed) => {
                let low = x
                    .f_linear::<Tensor>(&l.a, None)?
                    .f_linear::<Tensor>(&l.b, None)?;
                Ok(y.f_add(&low.f_mul_scalar(l.scale)?)?)
            }
            _ => Ok(y),
        }
    }

    /// `W + (α/r)·B A` (the weight a merged checkpoint stores), computed without autograd.
    pub fn merged_weight(&self) -> Result<Tensor> {
        tch::no_grad(|| match &self.lora {
            None => Ok(self.weight.f_detach()?),
            Some(l) => {
                let delta = l.b.f_matmul(&l.a)?.f_mul_scalar(l.scale)?;
                Ok(self.weight.f_add(&delta.f_to_kind(self.weight.kind())?)?)
            }
        })
    }
}
