//! Batched sampling with a preallocated KV cache.
//!
//! * [`Policy::generate`]: prompts (any lengths) → one [`Generation`] per prompt.
//! * [`session::Session`]: the same loop kept alive across turns — append observation
//!   tokens to each row, continue generating; the cache is never recomputed.
//!
//! Each sampled token carries two log-probabilities (TRL#6789): `logprobs_raw`, of the
//! temperature-scaled untruncated distribution softmax(z/τ) (what a trainer recomputes), and
//! `logprobs_trunc`, of the distribution actually sampled from after top-k/top-p truncation,
//! `log q = log p − log S` with S the kept probability mass. Importance ratios against the
//! behaviour policy must use the truncated one, or correct by `log S`.

pub mod filter;
pub mod session;

use crate::error::{ModelError, Result};
use crate::model::Policy;

/// Sampling options (vLLM / `transformers` semantics: temperature, then top-k, then top-p).
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    /// Most tokens generated per row (per call).
    pub max_new_tokens: usize,
    /// Softmax temperature τ; 0 means greedy (argmax).
    pub temperature: f64,
    /// Nucleus mass p in (0, 1] (Holtzman et al. 2020); 1 disables it.
    pub top_p: f64,
    /// Keep only the k most likely tokens (Fan et al. 2018); 0 disables it.
    pub top_k: usize,
    /// Token ids that end a row (the token is kept in the output).
    pub stop_tokens: Vec<u32>,
    /// Strings that end a row once the decoded output contains them (the token completing
    /// the string is kept; needs a [`Decode`]).
    pub stop_strings: Vec<String>,
    /// Seed; row r draws from the stream `seed ⊕ r`, so results are reproducible bit for bit
    /// on CPU.
    pub seed: u64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            max_new_tokens: 64,
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            stop_tokens: vec![],
            stop_strings: vec![],
            seed: 0,
        }
    }
}

impl SamplingConfig {
    /// Checks the ranges; errors name the option.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(ModelError::option("temperature", "must be finite and ≥ 0"));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ModelError::option("top-p", "must be in (0, 1]"));
        }
        if self.stop_strings.iter().any(String::is_empty) {
            return Err(ModelError::option("stop", "stop strings must not be empty"));
        }
        Ok(())
    }
}

/// Why a row stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// It produced one of the stop tokens (the last token).
    StopToken(u32),
    /// Its decoded text now contains this stop string.
    StopString(String),
    /// It reached `max_new_tokens`.
    MaxTokens,
    /// The row was not asked to generate ([`session::Session::generate_rows`]).
    Inactive,
}

impl StopReason {
    /// Short name (`stop_token`, `stop_string`, `length`, `inactive`).
    pub fn name(&self) -> &'static str {
        match self {
            StopReason::StopToken(_) => "stop_token",
            StopReason::StopString(_) => "stop_string",
            StopReason::MaxTokens => "length",
            StopReason::Inactive => "inactive",
        }
    }
}

/// What one row generated.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// Sampled token ids.
    pub tokens: Vec<u32>,
    /// log softmax(z/τ)[token] of each token (untruncated; τ = 1 when greedy).
    pub logprobs_raw: Vec<f32>,
    /// log q(token) under the truncated sampling distribution (0 when greedy).
    pub logprobs_trunc: Vec<f32>,
    /// Why the row stopped.
    pub stop_reason: StopReason,
}

/// Turns token ids into text, for stop strings.
pub trait Decode {
    /// Decodes ids (special tokens included).
    fn decode(&self, ids: &[u32]) -> Result<String>;
}

impl Decode for tokenizers::Tokenizer {
    fn decode(&self, ids: &[u32]) -> Result<String> {
        (**self)
            .decode(ids, false)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))
    }
}

impl Policy {
    /// Samples a continuation of every prompt (a batch; prompts may differ in length and are
    /// left-padded internally, with per-row positions; identical prompts are prefilled once).
    /// `decoder` is needed only for stop strings.
    pub fn generate(
        &self,
        prompts: &[Vec<u32>],
        cfg: &SamplingConfig,
        decoder: Option<&dyn Decode>,
    ) -> Result<Vec<Generation>> {
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        // Each distinct prompt is prefilled once, then fanned out to its rows (agents of one
        // group often see the same observation). Sampling stays per row.
        let mut seen = std::collections::HashMap::with_capacity(prompts.len());
        let mut distinct: Vec<Vec<u32>> = Vec::with_capacity(prompts.len());
        let rows: Vec<usize> = prompts
            .iter()
            .map(|p| {
                *seen.entry(p.as_slice()).or_insert_with(|| {
                    distinct.push(p.clone());
                    distinct.len() - 1
                })
            })
            .collect();
        let cap = longest + cfg.max_new_tokens;
        let mut s = session::Session::new(self, distinct.len(), cap)?;
        s.append(&distinct)?;
        if distinct.len() < prompts.len() {
            s.select_rows(&rows)?;
        }
        s.generate(cfg, decoder)
    }
}
