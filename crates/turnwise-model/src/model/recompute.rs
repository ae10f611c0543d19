//! Activation (gradient) checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear
//! Memory Cost", §3): with it on, a differentiable forward pass over fresh sequences runs the
//! decoder layers without autograd, keeping only each layer's input, and hands the final
//! norm and LM head a detached stand-in for the last layer's output that requires a
//! gradient. The loss's `backward` stops at that stand-in; [`Policy::backward`] then walks
//! the layers in reverse, recomputing each one with autograd from its kept input and
//! back-propagating the upstream gradient through it (`Σ (layer(x) ⊙ g)`, whose gradient
//! with respect to the layer's output is exactly `g`). Memory for activations drops from
//! every layer's autograd graph to one layer's graph plus one [B, T, d] input per layer, at
//! the price of a second forward pass through the layers.
//!
//! libtorch's C++ API has no checkpoint function reachable from tch, hence this explicit
//! two-phase form: every caller that trains through a checkpointed forward pass must use
//! [`Policy::backward`] instead of `loss.backward()`.

use std::sync::atomic::Ordering;

use super::layer::AttnMask;
use super::Policy;
use crate::error::Result;
use tch::{Device, Kind, Tensor};

/// One checkpointed forward pass waiting for its backward pass.
pub(crate) struct Pending {
    /// Token ids [B, T] (layer 0 recomputes its input, the embedding, from them).
    ids: Tensor,
    /// Inputs of layers 1..L (detached).
    inputs: Vec<Tensor>,
    /// The stand-in for the last layer's output: a leaf whose `grad` the loss fills.
    out: Tensor,
    cos: Tensor,
    sin: Tensor,
    mask: AttnMask,
    /// The LoRA switch during the forward pass (`None`: no adapters).
    adapters_on: Option<bool>,
}

/// Whether autograd records operations here (libtorch's grad mode).
pub(crate) fn grad_enabled() -> bool {
    let probe = Tensor::zeros([1], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    probe
        .f_mul_scalar(1.0)
        .map(|t| t.requires_grad())
        .unwrap_or(false)
}

impl Policy {
    /// Switches activation checkpointing on or off (off by default). With it on, gradients
    /// of a forward pass over fresh sequences reach the decoder layers only through
    /// [`Policy::backward`].
    pub fn set_gradient_checkpointing(&mut self, on: bool) {
        self.checkpointing = on;
    }

    /// Whether activation checkpointing is on.
    pub fn gradient_checkpointing(&self) -> bool {
        self.checkpointing
    }

    /// The state of the shared LoRA switch (`None` without adapters).
    fn adapters_on(&self) -> Option<bool> {
        self.layers
            .iter()
            .flat_map(|l| l.linears())
            .find_map(|(_, x)| x.lora.as_ref().map(|l| l.on.load(Ordering::Relaxed)))
    }

    /// Runs the layers on `x` (the embeddings of `ids`) without autograd, records what the
    /// backward pass needs, and returns the last layer's output as a gradient-requiring leaf.
    pub(crate) fn checkpointed_layers(
        &self,
        ids: &Tensor,
        x: Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: AttnMask,
    ) -> Result<Tensor> {
        let eps = self.config.rms_norm_eps;
        let mut inputs = Vec::with_capacity(self.layers.len().saturating_sub(1));
        let last = tch::no_grad(|| -> Result<Tensor> {
            let mut h = x.f_detach()?;
            for (i, layer) in self.layers.iter().enumerate() {
                if i > 0 {
                    inputs.push(h.shallow_clone());
                }
                h = layer.forward(&h, cos, sin, &mask, None, eps)?;
            }
            Ok(h)
        })?;
        let out = last.f_detach()?.set_requires_grad(true);
        let pending = Pending {
            ids: ids.shallow_clone(),
            inputs,
            out: out.shallow_clone(),
            cos: cos.shallow_clone(),
            sin: sin.shallow_clone(),
            mask,
            adapters_on: self.adapters_on(),
        };
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pending);
        Ok(out)
    }

    /// `loss.backward()`, then the checkpointed layers' part of it: every forward pass
    /// recorded since the last call is recomputed layer by layer in reverse and its gradient
    /// accumulated into the parameters' `grad` (the same gradients as without
    /// checkpointing, up to float rounding). Without checkpointing this is `loss.backward()`.
    pub fn backward(&self, loss: &Tensor) -> Result<()> {
        loss.f_backward()?;
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for p in pending.into_iter().rev() {
            match p.adapters_on {
                Some(false) => self.with_adapters_off(|| self.recompute(&p))?,
                _ => self.recompute(&p)?,
            }
        }
        Ok(())
    }

    /// Drops recorded forward passes without back-propagating them (e.g. after an error
    /// between the forward pass and [`Policy::backward`]).
    pub fn discard_checkpoints(&self) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Back-propagates `p.out.grad()` through the layers, last to first.
    fn recompute(&self, p: &Pending) -> Result<()> {
        let mut g = p.out.grad();
        if !g.defined() {
            return Ok(()); // the loss did not depend on this pass
        }
        let eps = self.config.rms_norm_eps;
        tch::with_grad(|| -> Result<()> {
            for (i, layer) in self.layers.iter().enumerate().rev() {
                let x = if i == 0 {
                    Tensor::f_embedding(&self.embed, &p.ids, -1, false, false)?
                } else {
                    p.inputs[i - 1].f_detach()?.set_requires_grad(true)
                };
                let y = layer.forward(&x, &p.cos, &p.sin, &p.mask, None, eps)?;
                if !y.requires_grad() {
                    break; // nothing below this layer is trainable
                }
                y.f_mul(&g)?.f_sum(y.kind())?.f_backward()?;
                if i == 0 {
                    break;
                }
                g = x.grad();
                if !g.defined() {
                    break;
                }
            }
            Ok(())
        })
    }
}
