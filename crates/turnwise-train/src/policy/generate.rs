//! Rollout generation through turnwise-model's batched KV-cache sampler
//! ([`turnwise_model::Policy::generate`]): prompts are prefilled once, then every live row
//! advances one token per step against the cache. The sampler's seed is drawn from the run's
//! ChaCha stream, so the same run seed gives the same actions bit for bit on CPU.

use rand::Rng as _;
use turnwise_core::seed::Rng;
use turnwise_model::{SamplingConfig, StopReason};

use super::Policy;

/// One generated action: its token ids and their log-probs under the sampling distribution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    /// Token ids, the stop token included when it was produced.
    pub ids: Vec<u32>,
    /// log softmax(z/τ)[token] (the untruncated distribution at the sampling temperature τ;
    /// τ = 1 when greedy), turnwise-model's `logprobs_raw`.
    pub logprobs: Vec<f32>,
    /// The stop token ended the action (false: cut by the token budget).
    pub stopped: bool,
}

/// How to sample.
#[derive(Debug, Clone, Copy)]
pub struct SampleSpec {
    /// Per-turn token budget.
    pub max_new: usize,
    /// The stop token (LMRL: `"\n"`).
    pub stop: Option<u32>,
    /// The end-of-sequence token, which also ends an action (Hugging Face tokenizers).
    pub eos: Option<u32>,
    /// A stop string matched on the decoded action (one that is not a single token, e.g.
    /// `</answer>`, or any stop with a BPE vocabulary, which can merge it into a longer
    /// token); the action ends with the token that completes it.
    pub stop_text: Option<&'static str>,
    /// Softmax temperature.
    pub temperature: f64,
    /// Take the most likely token.
    pub greedy: bool,
}

impl Policy {
    /// Generates one action for each context (no gradient).
    pub fn generate(
        &self,
        contexts: &[Vec<u32>],
        spec: &SampleSpec,
        rng: &mut Rng,
    ) -> anyhow::Result<Vec<Generated>> {
        if contexts.is_empty() {
            return Ok(vec![]);
        }
        let cfg = SamplingConfig {
            max_new_tokens: spec.max_new,
            temperature: if spec.greedy { 0.0 } else { spec.temperature },
            top_p: 1.0,
            top_k: 0,
            stop_tokens: spec.stop.into_iter().chain(spec.eos).collect(),
            stop_strings: spec.stop_text.map(str::to_owned).into_iter().collect(),
            seed: rng.random::<u64>(),
        };
        let decoder = spec
            .stop_text
            .is_some()
            .then_some(&self.tokenizer as &dyn turnwise_model::Decode);
        let gens = tch::no_grad(|| self.model.generate(contexts, &cfg, decoder))?;
        Ok(gens
            .into_iter()
            .map(|g| Generated {
                stopped: matches!(
                    g.stop_reason,
                    StopReason::StopToken(_) | StopReason::StopString(_)
                ),
                ids: g.tokens,
                logprobs: g.logprobs_raw,
            })
            .collect())
    }
}
