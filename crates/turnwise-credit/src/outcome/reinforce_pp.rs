//! REINFORCE++ and REINFORCE++-baseline (Hu, "REINFORCE++", arXiv 2501.03262),
//! `credit-outcome.md` §3.
//!
//! The outcome sits on the last action token; the token return is
//! `G_{i,k} = γ^{L_i−1−k} R_i` (or `R_i − μ_g` with the baseline), and every value is
//! whitened over **all action tokens of the batch** as verl's `masked_whiten` does it, with
//! its masked means dividing by `count + 1e-8`:
//! `μ = Σx/(n + 1e-8)`, `σ² = Σ(x − μ)²/(n + 1e-8) · n/(n − 1)`,
//! `A = (x − μ)·(σ² + 1e-8)^(−1/2)`. So one trajectory with outcome 1 and two tokens gets
//! 5e-5 on both tokens (verl), not 0.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::moments::scale_for;
use crate::output::{CreditOutput, Main, TokenValues, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};

use super::common::{group_moments, outcomes_into, unit_interval};

/// δ inside the square root of verl's `masked_whiten`.
pub const WHITEN_DELTA: f64 = 1e-8;

/// The 1e-8 verl's `masked_mean` adds to the mask count.
pub const COUNT_EPS: f64 = 1e-8;

/// verl's `masked_whiten` of `x` (every value unmasked), in place: `μ = Σx/(n + 1e-8)`,
/// `σ² = Σ(x − μ)²/(n + 1e-8) · n/(n − 1)`, `x ← (x − μ)/sqrt(σ² + 1e-8)`. Values above
/// 1e100 are first multiplied by an exact power of two `c` (as in [`crate::moments`]), so
/// squaring cannot overflow; the result is then `(xc − μc)/sqrt(σ²c² + δc²)`.
pub fn masked_whiten(x: &mut [f64]) {
    let n = x.len() as f64;
    let c = scale_for(x.iter().fold(0.0f64, |m, v| m.max(v.abs())));
    let denom = n + COUNT_EPS;
    let mean = x.iter().map(|v| v * c).sum::<f64>() / denom;
    let ss: f64 = x.iter().map(|v| (v * c - mean).powi(2)).sum();
    let var = ss / denom * (n / (n - 1.0));
    let root = var.sqrt().hypot(WHITEN_DELTA.sqrt() * c);
    x.iter_mut().for_each(|v| *v = (*v * c - mean) / root);
}

/// Options of [`reinforce_pp_token_advantages`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RppOptions {
    /// γ, discount per token.
    pub gamma: f64,
    /// REINFORCE++-baseline: `x = R − μ_g` instead of the discounted return.
    pub baseline: bool,
    /// verl's multi-turn quirk: the running return is reset at the first observation
    /// token, so every turn but the last has return 0 before whitening.
    pub reset_at_observation: bool,
}

/// Whitened per-token advantages, flat over the batch's action tokens (trajectory by
/// trajectory, turn by turn, `turn.tokens` tokens each), `credit-outcome.md` §3.
pub fn reinforce_pp_token_advantages(
    method: &'static str,
    batch: &Batch,
    o: RppOptions,
) -> Result<Vec<f64>, CreditError> {
    let mut flat = Vec::new();
    let mut rs = Vec::new();
    for g in &batch.groups {
        outcomes_into(method, g, &mut rs)?;
        let gm = group_moments(&rs);
        for (t, &r) in g.trajectories.iter().zip(&rs) {
            let total: usize = t.turns.iter().map(|u| u.tokens as usize).sum();
            if o.baseline {
                flat.extend(std::iter::repeat_n(gm.center(r), total));
                continue;
            }
            let last = t.turns.last().map_or(0, |u| u.tokens as usize);
            for k in 0..total {
                let v = if o.reset_at_observation && k < total - last {
                    0.0
                } else {
                    r * o.gamma.powi((total - 1 - k) as i32)
                };
                flat.push(v);
            }
        }
    }
    if flat.len() < 2 {
        return Err(CreditError::BadInput {
            method,
            message: format!(
                "whitening needs at least 2 action tokens in the batch, got {} (verl raises)",
                flat.len()
            ),
        });
    }
    masked_whiten(&mut flat);
    Ok(flat)
}

/// Per-turn view: the value of each turn's first token (0 for a turn without tokens).
pub fn per_turn(batch: &Batch, flat: &[f64]) -> TurnValues {
    let mut out = TurnValues::zeros(batch);
    let mut pos = 0;
    for (i, t) in batch.trajectories().enumerate() {
        for (v, u) in out.traj_mut(i).iter_mut().zip(&t.turns) {
            let n = u.tokens as usize;
            *v = if n > 0 { flat[pos] } else { 0.0 };
            pos += n;
        }
    }
    out
}

/// Per-token view: `[trajectory][turn][token]`.
pub fn per_token(batch: &Batch, flat: &[f64]) -> TokenValues {
    let mut pos = 0;
    TokenValues(
        batch
            .trajectories()
            .map(|t| {
                t.turns
                    .iter()
                    .map(|u| {
                        let n = u.tokens as usize;
                        pos += n;
                        flat[pos - n..pos].to_vec()
                    })
                    .collect()
            })
            .collect(),
    )
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(1.0),
        doc: "γ, per-token discount of the outcome",
    },
    ParamSpec {
        name: "baseline",
        kind: ParamKind::Bool,
        default: D::Bool(false),
        doc: "REINFORCE++-baseline: R − group mean instead of the return",
    },
    ParamSpec {
        name: "reset_at_observation",
        kind: ParamKind::Bool,
        default: D::Bool(false),
        doc: "reproduce verl's reset of the return at observation tokens (multi-turn quirk)",
    },
];

fn options(method: &str, p: &Params) -> Result<RppOptions, CreditError> {
    Ok(RppOptions {
        gamma: unit_interval(method, "gamma", p.f64("gamma"))?,
        baseline: p.bool("baseline"),
        reset_at_observation: p.bool("reset_at_observation"),
    })
}

/// `reinforce_pp`: REINFORCE++, one value per turn (its first token's).
pub struct ReinforcePp;

impl Estimator for ReinforcePp {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "reinforce_pp",
            paper: "REINFORCE++ (arXiv 2501.03262)",
            idea: "Discounted token return of the outcome (or R − group mean), whitened over every action token of the batch; value of each turn's first token.",
            fields: &["outcome", "tokens"],
            params: PARAMS,
            status: Status::Exact(
                "verl compute_reinforce_plus_plus(_baseline)_outcome_advantage",
            ),
            output: "advantages",
            kind: OutputKind::Advantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let flat =
            reinforce_pp_token_advantages("reinforce_pp", batch, options(self.info().name, p)?)?;
        Ok(CreditOutput::per_turn(per_turn(batch, &flat)))
    }
}

/// `reinforce_pp_tokens`: REINFORCE++ per token (values differ inside a turn when γ < 1).
pub struct ReinforcePpTokens;

impl Estimator for ReinforcePpTokens {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "reinforce_pp_tokens",
            paper: "REINFORCE++ (arXiv 2501.03262)",
            idea:
                "REINFORCE++ with one whitened value per action token ([trajectory][turn][token]).",
            fields: &["outcome", "tokens"],
            params: PARAMS,
            status: Status::Exact("verl compute_reinforce_plus_plus(_baseline)_outcome_advantage"),
            output: "token advantages",
            kind: OutputKind::TokenAdvantages,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let flat = reinforce_pp_token_advantages(
            "reinforce_pp_tokens",
            batch,
            options(self.info().name, p)?,
        )?;
        Ok(CreditOutput {
            main: Main::PerToken(per_token(batch, &flat)),
            extras: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::masked_whiten;

    /// verl: `masked_mean` divides by `count + 1e-8`, so equal values do not whiten to 0.
    #[test]
    fn whitening_divides_by_count_plus_1e_8_like_verl() {
        let mut x = [1.0, 1.0];
        masked_whiten(&mut x);
        // μ = 2/(2 + 1e-8); x − μ = 1e-8/(2 + 1e-8) ≈ 5e-9; σ² ≈ 5e-17; /sqrt(1e-8) → 5e-5
        for v in x {
            assert!((v - 5e-5).abs() < 1e-12, "{v}");
        }
        let mut y = [1.0, 2.0, 4.0];
        masked_whiten(&mut y);
        let n = 3.0 + 1e-8;
        let mu = 7.0 / n;
        let var = [1.0f64, 2.0, 4.0]
            .iter()
            .map(|v| (v - mu).powi(2))
            .sum::<f64>()
            / n
            * 1.5;
        assert!((y[2] - (4.0 - mu) / (var + 1e-8).sqrt()).abs() < 1e-12);
    }
}
