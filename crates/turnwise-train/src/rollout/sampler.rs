//! The [`Sampler`] trait: the rollout's only access to the model. Today's implementation is
//! the in-process policy with its batched KV-cache sampler ([`Policy`]); an inference
//! server (vLLM, SGLang) is another implementation of the same two methods, with no change
//! to the rollout or the training step.

use turnwise_core::seed::Rng;

use crate::policy::generate::{Generated, SampleSpec};
use crate::policy::{Policy, PolicyTokenizer};

/// Generates actions for a batch of token contexts.
pub trait Sampler {
    /// The tokenizer that encodes observations into context ids and decodes actions
    /// (token-in / token-out: the ids the sampler returns are the ids the loss scores).
    fn tokenizer(&self) -> &PolicyTokenizer;

    /// One action per context, with the sampling log-probs of its tokens. The random
    /// stream `rng` makes the actions reproducible for one seed.
    fn generate(
        &self,
        contexts: &[Vec<u32>],
        spec: &SampleSpec,
        rng: &mut Rng,
    ) -> anyhow::Result<Vec<Generated>>;
}

/// The in-process policy: prefill each distinct context once, then one token per live row
/// per step against a preallocated KV cache (turnwise-model's sampler).
impl Sampler for Policy {
    fn tokenizer(&self) -> &PolicyTokenizer {
        &self.tokenizer
    }

    fn generate(
        &self,
        contexts: &[Vec<u32>],
        spec: &SampleSpec,
        rng: &mut Rng,
    ) -> anyhow::Result<Vec<Generated>> {
        Policy::generate(self, contexts, spec, rng)
    }
}
