//! EPO: entropy-regularised policy optimisation (`credit-outcome.md` §15; WujiangXu/EPO
//! `dp_actor.py`): a per-environment-step entropy history, a smoothing penalty for
//! tokens whose entropy leaves the band around the step's historical mean, and a
//! training-phase weight.

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::agg::{aggregate, Normaliser};

/// EPO's adaptive phase weight w(e) (§15): 1 − 0.2(1 − exp(−2e/h)) up to h = max/2,
/// then 0.8·exp(−3(e − h)/(max − h)); e is clamped to [0, max].
pub fn phase_weight(epoch: i64, max_epochs: i64) -> f64 {
    if max_epochs <= 0 {
        return 1.0;
    }
    let e = epoch.clamp(0, max_epochs) as f64;
    let half = max_epochs / 2;
    if e <= half as f64 {
        if half == 0 {
            return 1.0;
        }
        return 1.0 - 0.2 * (1.0 - (-2.0 * e / half as f64).exp());
    }
    let rem = (max_epochs - half) as f64;
    0.8 * (-3.0 * (e - half as f64) / rem).exp()
}

/// The historical per-step mean entropy H̄ (§15): each iteration's per-step list is cut to
/// its last `max_steps` values or LEFT-padded with zeros (the released code's quirk, kept),
/// then averaged over iterations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntropyHistory {
    /// Number of steps kept per iteration.
    pub max_steps: usize,
    /// Element-wise sum of the padded lists.
    pub sum: Vec<f64>,
    /// Number of iterations recorded.
    pub iterations: usize,
}

impl EntropyHistory {
    /// An empty history of `max_steps` entries.
    pub fn new(max_steps: usize) -> Self {
        EntropyHistory {
            max_steps,
            sum: vec![0.0; max_steps],
            iterations: 0,
        }
    }

    /// Records one iteration's mean token entropy per environment step.
    pub fn push(&mut self, per_step: &[f64]) {
        let m = self.max_steps;
        let kept = &per_step[per_step.len().saturating_sub(m)..];
        let pad = m - kept.len();
        for (i, x) in kept.iter().enumerate() {
            self.sum[pad + i] += x;
        }
        self.iterations += 1;
    }

    /// H̄: the mean over recorded iterations (empty before the first).
    pub fn mean(&self) -> Vec<f64> {
        if self.iterations == 0 {
            return Vec::new();
        }
        let n = self.iterations as f64;
        self.sum.iter().map(|s| s / n).collect()
    }
}

/// Whether the band is tested per token or on the row's mean entropy (§15 `mask_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BandMode {
    /// Each token's entropy against the band.
    #[default]
    Token,
    /// The row's mean entropy against the band.
    Seq,
}

/// EPO smoothing settings (§15; README defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpoSmoothing {
    /// c_s: weight of the penalty in the entropy term.
    pub smooth_coef: f64,
    /// κ_l: lower band ratio.
    pub min_ratio: f64,
    /// κ_u: upper band ratio.
    pub max_ratio: f64,
    /// p_out: penalty outside the band.
    pub out_range_penalty: f64,
    /// Band test per token or per row.
    pub mode: BandMode,
    /// Smoothing applies only if some row has env_step ≥ max_steps / 2.
    pub max_steps: usize,
    /// Multiply the penalty by the phase weight w(e).
    pub phase_weight: Option<f64>,
}

/// The EPO entropy term of one batch (§15): `agg(H) − c_s·agg(P)` with P = 0 inside the
/// band κ_l·H̄ < H < κ_u·H̄ and p_out·w outside. As in the released code, P is a constant:
/// it changes the value, never the gradient. Returns (term, agg(H), agg(P), applied).
pub fn entropy_term(
    entropy: &Tensor,
    mask: &Tensor,
    env_step: &[usize],
    history: &[f64],
    cfg: &EpoSmoothing,
    norm: &Normaliser,
) -> (Tensor, Tensor, Tensor, bool) {
    let h_agg = aggregate(entropy, mask, norm);
    let apply = env_step.iter().any(|&s| s >= cfg.max_steps / 2);
    let kind = entropy.kind();
    let penalty = tch::no_grad(|| {
        if !apply {
            return entropy.zeros_like();
        }
        if history.is_empty() {
            return entropy.ones_like();
        }
        let hb: Vec<f64> = env_step
            .iter()
            .map(|&s| history.get(s).copied().unwrap_or(0.0))
            .collect();
        let hb = Tensor::from_slice(&hb).to_kind(kind).unsqueeze(1);
        let h = match cfg.mode {
            BandMode::Token => entropy.shallow_clone(),
            BandMode::Seq => {
                let n = mask.sum_dim_intlist(1, true, kind).clamp_min(1.0);
                ((entropy * mask).sum_dim_intlist(1, true, kind) / n).expand_as(entropy)
            }
        };
        let inside = h
            .gt_tensor(&(&hb * cfg.min_ratio))
            .logical_and(&h.lt_tensor(&(&hb * cfg.max_ratio)));
        let w = cfg.phase_weight.unwrap_or(1.0);
        let out = Tensor::full_like(entropy, cfg.out_range_penalty * w);
        entropy.zeros_like().where_self(&inside, &out)
    });
    let p_agg = aggregate(&penalty, mask, norm);
    let term = &h_agg - &p_agg * cfg.smooth_coef;
    (term, h_agg, p_agg, apply)
}
