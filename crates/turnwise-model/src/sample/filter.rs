//! One sampling step on the device: temperature, top-k, top-p, inverse-CDF draw from
//! host-side uniforms (so the draw depends only on our seeded RNG, not libtorch's global
//! generator), and the raw and truncated log-probabilities of the drawn tokens.

use super::SamplingConfig;
use crate::error::Result;
use tch::{Device, Kind, Tensor};

/// The drawn tokens and their log-probabilities, on the host.
pub struct Draw {
    /// Token per row.
    pub tokens: Vec<u32>,
    /// log softmax(z/τ) of the token.
    pub raw: Vec<f32>,
    /// Its log-probability under the truncated distribution.
    pub trunc: Vec<f32>,
}

/// Draws one token per row from logits [B, V]; `uniforms` holds one U[0,1) per row.
pub fn draw(logits: &Tensor, cfg: &SamplingConfig, uniforms: &[f64]) -> Result<Draw> {
    let logits = logits.f_to_kind(Kind::Float)?;
    let (b, v) = (logits.size()[0], logits.size()[1]);
    let dev = logits.device();
    let cols: Tensor = if cfg.temperature == 0.0 {
        let tok = logits.f_argmax(-1, true)?;
        let lp = logits
            .f_log_softmax(-1, Kind::Float)?
            .f_gather(-1, &tok, false)?;
        let zero = Tensor::f_zeros([b, 1], (Kind::Float, dev))?;
        Tensor::f_cat(
            &[
                &tok.f_to_kind(Kind::Double)?,
                &lp.f_to_kind(Kind::Double)?,
                &zero.f_to_kind(Kind::Double)?,
            ],
            1,
        )?
    } else {
        let logp = logits
            .f_div_scalar(cfg.temperature)?
            .f_log_softmax(-1, Kind::Float)?;
        let u = Tensor::f_from_slice(uniforms)?
            .f_to_device(dev)?
            .f_view([b, 1])?;
        let k = if cfg.top_k > 0 && (cfg.top_k as i64) < v {
            cfg.top_k as i64
        } else {
            v
        };
        if k == v && cfg.top_p >= 1.0 {
            // No truncation: inverse CDF over the whole vocabulary.
            let cdf = logp.f_exp()?.f_cumsum(-1, Kind::Double)?;
            let total = cdf.f_narrow(1, v - 1, 1)?;
            let j = u
                .f_mul(&total)?
                .f_searchsorted(&cdf, false, true, "right", None::<Tensor>)?
                .f_clamp_max(v - 1)?;
            let lp = logp.f_gather(-1, &j, false)?.f_to_kind(Kind::Double)?;
            Tensor::f_cat(&[&j.f_to_kind(Kind::Double)?, &lp, &lp], 1)?
        } else {
            let (vals, idx) = if k < v {
                logp.f_topk(k, -1, true, true)?
            } else {
                logp.f_sort(-1, true)?
            };
            let mut probs = vals.f_exp()?;
            if cfg.top_p < 1.0 {
                // Nucleus on the top-k distribution renormalised: keep the shortest prefix
                // whose mass reaches p (the first token is always kept).
                let renorm = probs.f_div(&probs.f_sum_dim_intlist(-1, true, Kind::Float)?)?;
                let before = renorm.f_cumsum(-1, Kind::Float)?.f_sub(&renorm)?;
                probs = probs.f_mul(&before.f_lt(cfg.top_p)?.f_to_kind(Kind::Float)?)?;
            }
            let kept = probs.f_gt(0.0)?.f_sum_dim_intlist(-1, true, Kind::Int64)?;
            let cdf = probs.f_cumsum(-1, Kind::Double)?;
            let mass = cdf.f_narrow(1, k - 1, 1)?;
            let j = u
                .f_mul(&mass)?
                .f_searchsorted(&cdf, false, true, "right", None::<Tensor>)?
                .f_minimum(&kept.f_sub_scalar(1)?.f_clamp_min(0)?)?;
            let tok = idx.f_gather(-1, &j, false)?;
            let raw = vals.f_gather(-1, &j, false)?.f_to_kind(Kind::Double)?;
            let trunc = raw.f_sub(&mass.f_log()?)?;
            Tensor::f_cat(&[&tok.f_to_kind(Kind::Double)?, &raw, &trunc], 1)?
        }
    };
    let host: Vec<f64> = Vec::try_from(&cols.f_to_device(Device::Cpu)?.f_flatten(0, -1)?)?;
    let mut out = Draw {
        tokens: Vec::with_capacity(b as usize),
        raw: Vec::with_capacity(b as usize),
        trunc: Vec::with_capacity(b as usize),
    };
    for r in host.chunks(3) {
        out.tokens.push(r[0] as u32);
        out.raw.push(r[1] as f32);
        out.trunc.push(r[2] as f32);
    }
    Ok(out)
}
