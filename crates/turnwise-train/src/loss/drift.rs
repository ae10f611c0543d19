//! A temporally-aware drift objective ("Discovering Temporally-Aware Reinforcement
//! Learning Algorithms", Jackson et al. 2024, TA-LPO).
//!
//! Mirror learning writes a policy objective as `L = E[ρ·A − f(ρ, A)]`, where the drift
//! `f ≥ 0` with `f(1, A) = 0` and `∂f/∂ρ(1, A) = 0` keeps the update near the behaviour
//! policy. LPO learns `f` with evolution strategies; TA-LPO adds the training progress
//! `p = n / N` (update n of a horizon of N) to the drift's inputs, so the learning rule can
//! change over the agent's lifetime. The paper publishes no closed form for TA-LPO (its
//! drift is a small network). We use the closed form distilled from LPO in "Discovered
//! Policy Optimisation" (Lu et al. 2022, DPO):
//!
//! ```text
//! f(ρ, A) = ReLU((ρ−1)·A − α·tanh((ρ−1)·A / α))      A ≥ 0
//!           ReLU(log ρ·A − β·tanh(log ρ·A / β))        A < 0       (α = 2, β = 0.6)
//! ```
//!
//! and make it temporally aware by interpolating its two tolerances with the progress:
//! `α(p) = α₀ + (α₁ − α₀)·p`, `β(p) = β₀ + (β₁ − β₀)·p`. ASSUMPTION (ours): the linear
//! schedule and its end points. With α₁ < α₀ and β₁ < β₀ (the defaults halve them) the
//! drift grows as training ends, i.e. updates become more conservative, which is the
//! trend TA-LPO's learned drift shows (optimistic early, conservative late).

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// `[loss.drift]`: the tolerances of the temporally-aware drift at the start (progress 0)
/// and end (progress 1) of training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftConfig {
    /// α₀: tolerance of positive-advantage updates at progress 0 (DPO: 2).
    pub alpha_start: f64,
    /// α₁: the same at progress 1.
    pub alpha_end: f64,
    /// β₀: tolerance of negative-advantage updates at progress 0 (DPO: 0.6).
    pub beta_start: f64,
    /// β₁: the same at progress 1.
    pub beta_end: f64,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            alpha_start: 2.0,
            alpha_end: 1.0,
            beta_start: 0.6,
            beta_end: 0.3,
        }
    }
}

impl DriftConfig {
    /// (α(p), β(p)) at training progress `p` (clamped to [0, 1]).
    pub fn at(&self, progress: f64) -> (f64, f64) {
        let p = progress.clamp(0.0, 1.0);
        (
            self.alpha_start + (self.alpha_end - self.alpha_start) * p,
            self.beta_start + (self.beta_end - self.beta_start) * p,
        )
    }
}

/// The drift `f(ρ, A; α, β)` per token (DPO's closed form, see the module doc).
pub fn drift(rho: &Tensor, adv: &Tensor, alpha: f64, beta: f64) -> Tensor {
    let x_pos = (rho - 1.0) * adv;
    let f_pos = (&x_pos - (&x_pos / alpha).tanh() * alpha).relu();
    let x_neg = rho.log() * adv;
    let f_neg = (&x_neg - (&x_neg / beta).tanh() * beta).relu();
    f_pos.where_self(&adv.ge(0.0), &f_neg)
}

/// Per-token loss `−(ρ·A − f(ρ, A; α(p), β(p)))` at progress `p`, and the indicator of tokens
/// where the drift is active (f > 0; reported like PPO's clip fraction).
pub fn drift_surrogate(
    rho: &Tensor,
    adv: &Tensor,
    cfg: &DriftConfig,
    progress: f64,
) -> (Tensor, Tensor) {
    let (alpha, beta) = cfg.at(progress);
    let f = drift(rho, adv, alpha, beta);
    let active = f.gt(0.0).to_kind(Kind::Float);
    (f - rho * adv, active)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v)
    }

    fn vals(x: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(x.to_kind(Kind::Double)).unwrap()
    }

    /// DPO's drift, written out per element.
    fn dpo(r: f64, a: f64, alpha: f64, beta: f64) -> f64 {
        let (x, c) = if a >= 0.0 {
            ((r - 1.0) * a, alpha)
        } else {
            (r.ln() * a, beta)
        };
        (x - c * (x / c).tanh()).max(0.0)
    }

    #[test]
    fn drift_matches_the_closed_form_and_is_non_negative() {
        let rs = [0.3, 0.8, 0.99, 1.0, 1.01, 1.3, 2.5];
        let advs = [-2.0, -0.5, 0.0, 0.4, 3.0];
        let (mut r, mut a) = (vec![], vec![]);
        for &x in &rs {
            for &y in &advs {
                r.push(x);
                a.push(y);
            }
        }
        let f = vals(&drift(&t(&r), &t(&a), 2.0, 0.6));
        for ((&fi, &ri), &ai) in f.iter().zip(&r).zip(&a) {
            let want = dpo(ri, ai, 2.0, 0.6);
            assert!((fi - want).abs() < 1e-12, "ρ={ri} A={ai}");
            assert!(fi >= 0.0);
        }
    }

    #[test]
    fn drift_and_its_slope_vanish_at_the_behaviour_policy() {
        // f(1, A) = 0 and ∂f/∂ρ(1, A) = 0: the loss's gradient at ρ = 1 is −A, as in PPO.
        for a in [-1.5, -0.2, 0.7, 2.0] {
            for p in [0.0, 0.5, 1.0] {
                let rho = Tensor::from_slice(&[1.0f64]).set_requires_grad(true);
                let adv = t(&[a]);
                let (l, active) = drift_surrogate(&rho, &adv, &DriftConfig::default(), p);
                assert_eq!(vals(&active), vec![0.0]);
                l.sum(Kind::Double).backward();
                let g = vals(&rho.grad())[0];
                assert!((g + a).abs() < 1e-12, "A={a} p={p}: grad {g}");
            }
        }
    }

    #[test]
    fn progress_moves_the_drift_from_dpo_to_the_end_tolerances() {
        let cfg = DriftConfig::default();
        assert_eq!(cfg.at(0.0), (2.0, 0.6));
        assert_eq!(cfg.at(1.0), (1.0, 0.3));
        assert_eq!(cfg.at(7.0), (1.0, 0.3));
        let r = t(&[1.6, 0.5, 1.6, 0.5]);
        let a = t(&[1.0, 1.0, -1.0, -1.0]);
        let mut last = vec![0.0; 4];
        for k in 0..=10 {
            let p = k as f64 / 10.0;
            let (l, _) = drift_surrogate(&r, &a, &cfg, p);
            let (al, be) = cfg.at(p);
            let f = vals(&drift(&r, &a, al, be));
            let l = vals(&l);
            let rv = [1.6, 0.5, 1.6, 0.5];
            let av = [1.0, 1.0, -1.0, -1.0];
            for (i, (((&li, &fi), &r), &a)) in l.iter().zip(&f).zip(&rv).zip(&av).enumerate() {
                assert!((li - (fi - r * a)).abs() < 1e-12);
                // Smaller tolerances late in training: the drift never shrinks with progress.
                assert!(fi >= last[i] - 1e-15, "token {i} at p={p}");
            }
            last = f;
        }
        // Moving a good action's probability up (ρ > 1, A > 0) costs more at the end.
        assert!(last[0] > dpo(1.6, 1.0, 2.0, 0.6));
        // ... and a bad action's probability down (ρ < 1, A < 0) likewise.
        assert!(last[3] > dpo(0.5, -1.0, 2.0, 0.6));
        // Moves against the advantage's sign carry no drift at any progress.
        assert_eq!((last[1], last[2]), (0.0, 0.0));
    }
}
