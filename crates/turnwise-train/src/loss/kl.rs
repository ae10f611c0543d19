//! Per-token KL estimators to a frozen reference (`credit-outcome.md` §12.3; verl
//! `kl_penalty`): x = log π_θ, y = log π_ref, samples drawn from π_old ≈ π_θ.

use serde::{Deserialize, Serialize};
use tch::Tensor;

/// A KL estimator (§12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KlKind {
    /// k1 ("kl"): x − y.
    #[serde(rename = "k1", alias = "kl")]
    K1,
    /// |x − y| ("abs").
    #[serde(rename = "abs")]
    Abs,
    /// k2 ("mse"): ½(x − y)².
    #[serde(rename = "k2", alias = "mse")]
    K2,
    /// k3 ("low_var_kl"): clip(exp(y − x) − (y − x) − 1, −10, 10), y − x clipped to ±20.
    #[serde(rename = "k3", alias = "low_var_kl")]
    K3,
    /// k1 value with the k2 gradient (straight-through, "k1+").
    #[serde(rename = "k1+")]
    K1Plus,
    /// k3 value with the k2 gradient (straight-through, "k3+").
    #[serde(rename = "k3+")]
    K3Plus,
}

impl KlKind {
    /// Parses a verl / spec name (`k1`, `kl`, `k2`, `mse`, `k3`, `low_var_kl`, `abs`, `k1+`, `k3+`).
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// The per-token estimate of KL(π_θ ‖ π_ref) (§12.3).
pub fn kl_estimate(logp: &Tensor, ref_logp: &Tensor, kind: KlKind) -> Tensor {
    let k2 = || (logp - ref_logp).square() * 0.5;
    let k3 = || {
        let d = (ref_logp - logp).clamp(-20.0, 20.0);
        (d.exp() - &d - 1.0).clamp(-10.0, 10.0)
    };
    let straight_through = |value: Tensor| {
        let g = k2();
        &g - g.detach() + value.detach()
    };
    match kind {
        KlKind::K1 => logp - ref_logp,
        KlKind::Abs => (logp - ref_logp).abs(),
        KlKind::K2 => k2(),
        KlKind::K3 => k3(),
        KlKind::K1Plus => straight_through(logp - ref_logp),
        KlKind::K3Plus => straight_through(k3()),
    }
}
