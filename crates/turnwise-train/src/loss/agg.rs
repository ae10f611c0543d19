//! Loss aggregation (`loss_agg_mode`, `credit-outcome.md` §12.2; verl `agg_loss`).
//!
//! Every row is one sequence (one turn); `mask` marks the valid (action) tokens. The
//! denominators come from a [`Normaliser`] computed over the WHOLE batch before it is
//! split into micro-batches, so summing the micro-batch losses gives the same value (and
//! gradient) whatever the micro-batch size.

use serde::{Deserialize, Serialize};
use tch::Tensor;

/// How per-token losses are reduced to a scalar (§12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AggMode {
    /// Σ_{rows,tokens} ℓ / #valid tokens in the batch (DAPO, verl default).
    #[default]
    #[serde(rename = "token-mean")]
    TokenMean,
    /// mean_rows(Σ_tokens ℓ) (KernelGYM).
    #[serde(rename = "seq-mean-token-sum")]
    SeqMeanTokenSum,
    /// mean_rows(mean_tokens ℓ) (original GRPO, GSPO).
    #[serde(rename = "seq-mean-token-mean")]
    SeqMeanTokenMean,
    /// Σ_{rows,tokens} ℓ / L_max, a constant (Dr. GRPO).
    #[serde(rename = "seq-mean-token-sum-norm")]
    SeqMeanTokenSumNorm,
}

impl AggMode {
    /// Parses the verl name of a mode.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// Batch-wide denominators for [`aggregate`]: rows with no valid token are excluded from
/// the seq-mean denominators (§12.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normaliser {
    /// The mode.
    pub mode: AggMode,
    /// Number of valid tokens in the whole batch.
    pub tokens: f64,
    /// Number of rows with at least one valid token in the whole batch.
    pub rows: f64,
    /// L_max for `seq-mean-token-sum-norm` (the longest row when not configured).
    pub max_len: f64,
}

impl Normaliser {
    /// Denominators from per-row valid-token counts of the whole batch.
    pub fn from_counts(mode: AggMode, counts: &[usize], max_len: Option<usize>) -> Self {
        let tokens = counts.iter().sum::<usize>() as f64;
        let rows = counts.iter().filter(|&&c| c > 0).count() as f64;
        let longest = counts.iter().copied().max().unwrap_or(1).max(1);
        Normaliser {
            mode,
            tokens,
            rows,
            max_len: max_len.unwrap_or(longest) as f64,
        }
    }
}

impl Normaliser {
    /// The weight [`aggregate`] gives each valid token of a row with `row_tokens` valid
    /// tokens: 1/#tokens (token-mean), 1/#rows (seq-mean-token-sum), 1/(#rows·row_tokens)
    /// (seq-mean-token-mean), 1/L_max (seq-mean-token-sum-norm).
    pub fn token_weight(&self, row_tokens: usize) -> f64 {
        match self.mode {
            AggMode::TokenMean => 1.0 / self.tokens.max(1.0),
            AggMode::SeqMeanTokenSum => 1.0 / self.rows.max(1.0),
            AggMode::SeqMeanTokenMean => 1.0 / (self.rows.max(1.0) * row_tokens.max(1) as f64),
            AggMode::SeqMeanTokenSumNorm => 1.0 / self.max_len,
        }
    }
}

/// Aggregates per-token values `x` ([R, T]) under `mask` ([R, T], 1 = valid) into this
/// (micro-)batch's share of the batch-wide scalar (§12.2). Empty denominators give 0.
pub fn aggregate(x: &Tensor, mask: &Tensor, norm: &Normaliser) -> Tensor {
    let xm = x * mask;
    let kind = x.kind();
    match norm.mode {
        AggMode::TokenMean => xm.sum(kind) / norm.tokens.max(1.0),
        AggMode::SeqMeanTokenSum => xm.sum(kind) / norm.rows.max(1.0),
        AggMode::SeqMeanTokenMean => {
            let n = mask.sum_dim_intlist(1, false, kind);
            let per_row = xm.sum_dim_intlist(1, false, kind) / n.clamp_min(1.0);
            per_row.sum(kind) / norm.rows.max(1.0)
        }
        AggMode::SeqMeanTokenSumNorm => xm.sum(kind) / norm.max_len,
    }
}
