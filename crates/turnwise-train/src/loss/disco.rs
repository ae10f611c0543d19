//! DisCO: the discriminative constrained objective (`credit-outcome.md` §10;
//! Optimization-AI/DisCO `core_algos.py`).

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// The scoring function s_θ(o) of a response (§10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Scoring {
    /// logL: (1/L) Σ_t log π_θ(o_t | ·).
    #[default]
    #[serde(rename = "logL")]
    LogL,
    /// Lratio: (1/L) Σ_t π_θ(o_t | ·)/π_old(o_t | ·).
    #[serde(rename = "Lratio")]
    LRatio,
}

/// Per-row scores s_θ ([R]) from [R, T] log-probs under `mask`.
pub fn scores(logp_new: &Tensor, logp_old: &Tensor, mask: &Tensor, scoring: Scoring) -> Tensor {
    let k = logp_new.kind();
    let n = mask.sum_dim_intlist(1, false, k).clamp_min(1.0);
    let per_token = match scoring {
        Scoring::LogL => logp_new.shallow_clone(),
        Scoring::LRatio => (logp_new - logp_old).clamp(-20.0, 20.0).exp(),
    };
    (per_token * mask).sum_dim_intlist(1, false, k) / n
}

/// The DisCO objective J (§10), to be maximised. `groups` lists the row indices of each
/// question's responses, `outcomes` the responses' rewards (1 positive, 0 negative,
/// anything else ignored); `n_questions` is the batch's number of questions (skipped
/// ones included). DisCO: J_q = mean_pos s − τ·log mean_neg exp(s/τ); DisCO-b (`basic`):
/// J_q = mean_pos s − mean_neg s.
pub fn objective(
    s: &Tensor,
    groups: &[Vec<usize>],
    outcomes: &[f64],
    tau: f64,
    basic: bool,
    n_questions: usize,
) -> Tensor {
    let mut j = Tensor::zeros([], (s.kind(), s.device()));
    for g in groups {
        let pos: Vec<i64> = g
            .iter()
            .filter(|&&i| outcomes[i] == 1.0)
            .map(|&i| i as i64)
            .collect();
        let neg: Vec<i64> = g
            .iter()
            .filter(|&&i| outcomes[i] == 0.0)
            .map(|&i| i as i64)
            .collect();
        if pos.is_empty() || neg.is_empty() {
            continue;
        }
        let sp = s.index_select(0, &Tensor::from_slice(&pos));
        let sn = s.index_select(0, &Tensor::from_slice(&neg));
        let neg_term = if basic {
            sn.mean(s.kind())
        } else {
            let z = &sn / tau;
            (z.logsumexp(0, false) - (neg.len() as f64).ln()) * tau
        };
        j = j + sp.mean(s.kind()) - neg_term;
    }
    j / (n_questions.max(1) as f64)
}

/// The squared-hinge KL constraint (§10): value β·max(0, D − δ)·D with the first factor
/// detached, and its gradient coefficient d/dD = β·max(0, D − δ).
pub fn kl_penalty(kl: f64, beta: f64, delta: f64) -> (f64, f64) {
    let coef = beta * (kl - delta).max(0.0);
    (coef * kl, coef)
}

/// [`kl_penalty`] on a tensor D (a scalar carrying the gradient).
pub fn kl_penalty_tensor(kl: &Tensor, beta: f64, delta: f64) -> Tensor {
    let coef = beta * (kl.double_value(&[]) - delta).max(0.0);
    kl * coef
}

/// D = masked mean over all valid tokens of (log π_old − log π_θ) (k1, `ppo_kl_type=kl`).
pub fn kl_old(logp_new: &Tensor, logp_old: &Tensor, mask: &Tensor) -> Tensor {
    let k = logp_new.kind();
    ((logp_old - logp_new) * mask).sum(k) / mask.sum(Kind::Double).double_value(&[]).max(1.0)
}
