//! The PPO clipped surrogate with clip-higher, dual clip, per-row clip ranges and GSPO
//! sequence ratios (`credit-outcome.md` §12.1, §12.5; verl `compute_policy_loss_vanilla`,
//! GSPO `compute_policy_loss_gspo`).

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Which importance ratio enters the surrogate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum RatioKind {
    /// Per-token ratio ρ_t = π_θ/π_old (PPO, GRPO, DAPO).
    #[default]
    #[serde(rename = "token")]
    Token,
    /// GSPO (§12.5): s_i = exp(mean_t log(π_θ/π_old)) per row, with per-token gradient
    /// s_{i,t} = sg[s_i]·π_θ(y_t)/sg[π_θ(y_t)].
    #[serde(rename = "sequence")]
    Sequence,
}

/// Clip ranges of the surrogate. `low`/`high` are tensors broadcastable to [R, T] so each
/// row (turn) may carry its own range (A²TGPO's `clip_eps` extra).
pub struct Clip {
    /// ε_low: the ratio is clipped below at 1 − ε_low.
    pub low: Tensor,
    /// ε_high: the ratio is clipped above at 1 + ε_high (DAPO clip-higher: 0.28).
    pub high: Tensor,
    /// Dual-clip constant c > 1 for negative advantages (None: off).
    pub dual_c: Option<f64>,
}

impl Clip {
    /// The same range for every token.
    pub fn uniform(low: f64, high: f64, dual_c: Option<f64>) -> Self {
        Clip {
            low: Tensor::from(low),
            high: Tensor::from(high),
            dual_c,
        }
    }
}

/// The importance ratio ([R, T]) of `kind`; log-ratios are clipped to ±20 (§12.1).
pub fn ratio(logp_new: &Tensor, logp_old: &Tensor, mask: &Tensor, kind: RatioKind) -> Tensor {
    let log_ratio = (logp_new - logp_old).clamp(-20.0, 20.0);
    match kind {
        RatioKind::Token => log_ratio.exp(),
        RatioKind::Sequence => {
            let k = logp_new.kind();
            let n = mask.sum_dim_intlist(1, true, k).clamp_min(1.0);
            let seq = ((&log_ratio * mask).sum_dim_intlist(1, true, k) / n).exp();
            seq.detach() * (logp_new - logp_new.detach()).exp()
        }
    }
}

/// Per-token clipped surrogate loss ℓ_t and the indicator of tokens where clipping was
/// active (§12.1): ℓ = max(−Aρ, −A·clip(ρ, 1−ε_low, 1+ε_high)); with dual clip and A < 0,
/// ℓ ← min(ℓ, −A·c).
pub fn clipped_surrogate(rho: &Tensor, adv: &Tensor, clip: &Clip) -> (Tensor, Tensor) {
    let l1 = -(adv * rho);
    let lo: Tensor = -&clip.low + 1.0;
    let hi: Tensor = &clip.high + 1.0;
    let clipped = rho
        .maximum(&lo.to_kind(rho.kind()))
        .minimum(&hi.to_kind(rho.kind()));
    let l2 = -(adv * clipped);
    let mut loss = l1.maximum(&l2);
    let active = l2.gt_tensor(&l1).to_kind(Kind::Float);
    if let Some(c) = clip.dual_c {
        let capped = loss.minimum(&(adv * -c));
        loss = capped.where_self(&adv.lt(0.0), &loss);
    }
    (loss, active)
}
