//! Policy losses on libtorch (`credit-outcome.md` §10, §12, §13, §15): the PPO clip family
//! (clip-higher, dual clip, per-turn clip ranges, GSPO sequence ratios), the four
//! aggregation modes, KL to a frozen reference, the entropy bonus, EPO smoothing and
//! DisCO's constrained objective. Every row of the tensors is one turn's action tokens.

pub mod agg;
pub mod disco;
pub mod drift;
pub mod epo;
pub mod kl;
pub mod ppo;
pub mod vectors;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

pub use agg::{aggregate, AggMode, Normaliser};
pub use kl::{kl_estimate, KlKind};
pub use ppo::{Clip, RatioKind};

/// EPO smoothing options of the loss (§15; README values as defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EpoConfig {
    /// c_s: weight of the out-of-band penalty in the entropy term.
    pub smooth_coef: f64,
    /// κ_l: lower band ratio around the step's historical entropy.
    pub min_ratio: f64,
    /// κ_u: upper band ratio.
    pub max_ratio: f64,
    /// p_out: penalty of an out-of-band token.
    pub out_range_penalty: f64,
    /// `token` (each token) or `seq` (row mean) band test.
    pub mode: epo::BandMode,
    /// Number of environment steps kept in the history; smoothing applies from step max_steps/2.
    pub max_steps: usize,
    /// Multiply the penalty by the phase weight w(e) (e = training step).
    pub phase_weight: bool,
    /// The phase schedule's length in training steps (the released code hard-codes 150).
    pub max_epochs: i64,
}

impl Default for EpoConfig {
    fn default() -> Self {
        EpoConfig {
            smooth_coef: 1.0,
            min_ratio: 0.5,
            max_ratio: 1.5,
            out_range_penalty: 0.1,
            mode: epo::BandMode::Token,
            max_steps: 50,
            phase_weight: true,
            max_epochs: 150,
        }
    }
}

/// One micro-batch of rows ([R, T] tensors, padded; `mask` = 1 on action tokens).
pub struct Rows {
    /// log π_θ of the action tokens (carries the gradient).
    pub logp_new: Tensor,
    /// log π_old (behaviour policy), no gradient.
    pub logp_old: Tensor,
    /// Per-token advantages (a turn's advantage broadcast to its tokens).
    pub adv: Tensor,
    /// Valid-token mask (0 for padding and for over-turn-masked trajectories).
    pub mask: Tensor,
    /// log π_ref, when a KL term is used.
    pub logp_ref: Option<Tensor>,
    /// Entropy of the full next-token distribution at each action token.
    pub entropy: Option<Tensor>,
    /// Per-row clip ranges ([R, 1]) overriding the configured ones (A²TGPO `clip_eps`).
    pub clip: Option<(Tensor, Tensor)>,
    /// Environment step of each row (EPO).
    pub env_step: Vec<usize>,
}

/// Settings of [`policy_loss`] (§12).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyLossSpec {
    /// ε_low.
    pub clip_low: f64,
    /// ε_high (clip-higher when > ε_low).
    pub clip_high: f64,
    /// Dual-clip constant c > 1.
    pub dual_clip: Option<f64>,
    /// Token or GSPO sequence ratio.
    pub ratio: RatioKind,
    /// KL estimator and coefficient of the KL loss (None: no KL; coefficient 0: the KL is
    /// measured for the metrics but not added to the loss, as when it is in the reward).
    pub kl: Option<(KlKind, f64)>,
    /// β_H: entropy-bonus coefficient.
    pub entropy_coef: f64,
    /// EPO smoothing: settings and the history H̄ (None: plain entropy bonus).
    pub epo: Option<(epo::EpoSmoothing, Vec<f64>)>,
    /// The temporally-aware drift objective and the training progress in [0, 1], replacing
    /// the clipped surrogate (None: the PPO clip family).
    pub drift: Option<(drift::DriftConfig, f64)>,
}

/// The parts of the actor loss of one micro-batch.
pub struct LossTerms {
    /// The scalar to back-propagate: pg − β_H·entropy_term + β_KL·kl.
    pub loss: Tensor,
    /// Aggregated policy-gradient loss.
    pub pg_loss: Tensor,
    /// Aggregated entropy (when entropies were given).
    pub entropy: Option<Tensor>,
    /// Aggregated KL (when a KL term is configured).
    pub kl: Option<Tensor>,
    /// EPO penalty agg(P) and whether smoothing applied.
    pub epo_penalty: Option<(Tensor, bool)>,
    /// Number of valid tokens where the clip was active (for the clip fraction).
    pub clipped_tokens: f64,
}

/// The actor loss (§12.4): `pg − β_H·agg(H) + β_KL·agg(kl)` (with EPO, agg(H) becomes
/// `agg(H) − c_s·agg(P)`, §15), every term aggregated with `norm`.
pub fn policy_loss(rows: &Rows, spec: &PolicyLossSpec, norm: &Normaliser) -> LossTerms {
    let rho = ppo::ratio(&rows.logp_new, &rows.logp_old, &rows.mask, spec.ratio);
    let clip = match &rows.clip {
        Some((lo, hi)) => Clip {
            low: lo.shallow_clone(),
            high: hi.shallow_clone(),
            dual_c: spec.dual_clip,
        },
        None => Clip::uniform(spec.clip_low, spec.clip_high, spec.dual_clip),
    };
    let (pg, active) = match &spec.drift {
        Some((d, progress)) => drift::drift_surrogate(&rho, &rows.adv, d, *progress),
        None => ppo::clipped_surrogate(&rho, &rows.adv, &clip),
    };
    let pg_loss = aggregate(&pg, &rows.mask, norm);
    let clipped_tokens = (active * &rows.mask).sum(Kind::Double).double_value(&[]);
    let mut loss = pg_loss.shallow_clone();
    let mut entropy = None;
    let mut epo_penalty = None;
    if let Some(h) = &rows.entropy {
        let term = match &spec.epo {
            Some((cfg, history)) => {
                let (term, h_agg, p_agg, applied) =
                    epo::entropy_term(h, &rows.mask, &rows.env_step, history, cfg, norm);
                entropy = Some(h_agg);
                epo_penalty = Some((p_agg, applied));
                term
            }
            None => {
                let h_agg = aggregate(h, &rows.mask, norm);
                entropy = Some(h_agg.shallow_clone());
                h_agg
            }
        };
        if spec.entropy_coef != 0.0 {
            loss = &loss - term * spec.entropy_coef;
        }
    }
    let mut kl = None;
    if let (Some((k, coef)), Some(r)) = (spec.kl, &rows.logp_ref) {
        let v = aggregate(&kl_estimate(&rows.logp_new, r, k), &rows.mask, norm);
        if coef != 0.0 {
            loss = &loss + &v * coef;
        }
        kl = Some(v);
    }
    LossTerms {
        loss,
        pg_loss,
        entropy,
        kl,
        epo_penalty,
        clipped_tokens,
    }
}
