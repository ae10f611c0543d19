//! Rotary position embedding (Su et al. 2021, RoFormer §3.4.2) in the "rotate half" layout of
//! Hugging Face checkpoints, with the frequency rules of [`RopeScaling`]. Frequencies are
//! computed in f32 with the same operations as `transformers.modeling_rope_utils`, so the
//! tables agree with it to the last bit or two.

use crate::config::{RopeScaling, RopeSpec};
use crate::error::Result;
use std::f64::consts::PI;
use tch::{Device, Kind, Tensor};

/// The rotary tables of a model.
#[derive(Debug)]
pub struct Rope {
    spec: RopeSpec,
    head_dim: i64,
    /// Inverse frequencies [head_dim / 2] in f32 (for `Dynamic`: those of sequences within
    /// `max_position_embeddings`).
    inv_freq: Tensor,
    /// Multiplier of cos and sin (YaRN's attention factor; 1 otherwise).
    scale: f64,
}

/// θ^(2i/d) for i < d/2, in f32: `base ** (arange(0, d, 2).float() / d)`.
fn pos_freqs(base: f64, dim: i64, device: Device) -> Result<Tensor> {
    let exps = Tensor::f_arange_start_step(0, dim, 2, (Kind::Int64, device))?
        .f_to_kind(Kind::Float)?
        .f_div_scalar(dim as f64)?;
    Ok(Tensor::f_pow_scalar(base, &exps)?)
}

/// θ^(−2i/d) for i < d/2, in f32: `1 / base ** (arange(0, d, 2).float() / d)`.
fn default_inv_freq(base: f64, dim: i64, device: Device) -> Result<Tensor> {
    Ok(pos_freqs(base, dim, device)?.f_reciprocal()?)
}

/// `c / t` elementwise, rounded as Python's `float / tensor`.
fn scalar_div(c: f64, t: &Tensor) -> Result<Tensor> {
    Ok(t.f_full_like(c)?.f_div(t)?)
}

/// YaRN's inverse correction dimension for `rotations` full turns over `max_pos` positions.
fn correction_dim(rotations: f64, dim: f64, base: f64, max_pos: f64) -> f64 {
    dim * (max_pos / (rotations * 2.0 * PI)).ln() / (2.0 * base.ln())
}

impl Rope {
    /// The tables for `spec` and head width `head_dim` on `device`.
    pub fn new(spec: &RopeSpec, head_dim: i64, device: Device) -> Result<Self> {
        let base = default_inv_freq(spec.theta, head_dim, device)?;
        let (inv_freq, scale) = match &spec.scaling {
            RopeScaling::Default | RopeScaling::Dynamic { .. } => (base, 1.0),
            RopeScaling::Linear { factor } => (base.f_div_scalar(*factor)?, 1.0),
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max,
            } => {
                let low_wavelen = original_max / low_freq_factor;
                let high_wavelen = original_max / high_freq_factor;
                let wavelen = scalar_div(2.0 * PI, &base)?;
                let scaled = base.f_div_scalar(*factor)?;
                let low = wavelen.f_gt(low_wavelen)?;
                let inv = scaled.f_where_self(&low, &base)?;
                let smooth = scalar_div(*original_max, &wavelen)?
                    .f_sub_scalar(*low_freq_factor)?
                    .f_div_scalar(high_freq_factor - low_freq_factor)?;
                let one_minus = smooth.f_neg()?.f_add_scalar(1.0)?;
                let smoothed = one_minus
                    .f_mul(&inv)?
                    .f_div_scalar(*factor)?
                    .f_add(&smooth.f_mul(&inv)?)?;
                let medium = wavelen
                    .f_lt(high_wavelen)?
                    .f_logical_not()?
                    .f_logical_and(&low.f_logical_not()?)?;
                (smoothed.f_where_self(&medium, &inv)?, 1.0)
            }
            RopeScaling::Yarn {
                factor,
                original_max,
                beta_fast,
                beta_slow,
                attention_factor,
                truncate,
            } => {
                let dim = head_dim as f64;
                let mut lo = correction_dim(*beta_fast, dim, spec.theta, *original_max);
                let mut hi = correction_dim(*beta_slow, dim, spec.theta, *original_max);
                if *truncate {
                    lo = lo.floor();
                    hi = hi.ceil();
                }
                let (lo, mut hi) = (lo.max(0.0), hi.min(dim - 1.0));
                if lo == hi {
                    hi += 0.001;
                }
                let pos = pos_freqs(spec.theta, head_dim, device)?;
                let extrapolation = base.shallow_clone();
                let interpolation = pos.f_mul_scalar(*factor)?.f_reciprocal()?;
                let ramp = Tensor::f_arange(head_dim / 2, (Kind::Float, device))?
                    .f_sub_scalar(lo)?
                    .f_div_scalar(hi - lo)?
                    .f_clamp(0.0, 1.0)?;
                let extra = ramp.f_neg()?.f_add_scalar(1.0)?; // 1 − ramp
                let inv = interpolation
                    .f_mul(&extra.f_neg()?.f_add_scalar(1.0)?)?
                    .f_add(&extrapolation.f_mul(&extra)?)?;
                (inv, *attention_factor)
            }
        };
        Ok(Rope {
            spec: spec.clone(),
            head_dim,
            inv_freq,
            scale,
        })
    }

    /// The frequencies for a call whose longest position is `max_pos` (dynamic NTK rescales
    /// beyond `max_position_embeddings`; the other rules ignore it).
    fn inv_freq_for(&self, positions: &Tensor) -> Result<Tensor> {
        let RopeScaling::Dynamic { factor } = self.spec.scaling else {
            return Ok(self.inv_freq.shallow_clone());
        };
        let l0 = self.spec.max_position_embeddings;
        let len = positions.f_max()?.f_int64_value(&[])? as f64 + 1.0;
        if len <= l0 {
            return Ok(self.inv_freq.shallow_clone());
        }
        let d = self.head_dim as f64;
        let base = self.spec.theta * ((factor * len / l0) - (factor - 1.0)).powf(d / (d - 2.0));
        default_inv_freq(base, self.head_dim, self.inv_freq.device())
    }

    /// `(cos, sin)` of shape [B, 1, T, head_dim] for integer positions [B, T], in `kind`.
    pub fn cos_sin(&self, positions: &Tensor, kind: Kind) -> Result<(Tensor, Tensor)> {
        let inv_freq = self.inv_freq_for(positions)?;
        let freqs = positions
            .f_to_kind(Kind::Float)?
            .f_unsqueeze(-1)?
            .f_mul(&inv_freq)?;
        let emb = Tensor::f_cat(&[&freqs, &freqs], -1)?.f_unsqueeze(1)?;
        let (mut cos, mut sin) = (emb.f_cos()?, emb.f_sin()?);
        if self.scale != 1.0 {
            cos = cos.f_mul_scalar(self.scale)?;
            sin = sin.f_mul_scalar(self.scale)?;
        }
        Ok((cos.f_to_kind(kind)?, sin.f_to_kind(kind)?))
    }
}

fn rotate_half(x: &Tensor) -> Result<Tensor> {
    let half = x.size()[3] / 2;
    let x1 = x.f_narrow(3, 0, half)?;
    let x2 = x.f_narrow(3, half, half)?;
    Ok(Tensor::f_cat(&[&x2.f_neg()?, &x1], 3)?)
}

/// `x·cos + rotate_half(x)·sin` for x [B, H, T, head_dim].
pub fn apply_rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    Ok(x.f_mul(cos)?.f_add(&rotate_half(x)?.f_mul(sin)?)?)
}
