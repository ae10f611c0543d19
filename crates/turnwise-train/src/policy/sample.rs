//! Batched sampling: every live sequence of a batch advances one token per forward pass;
//! tokens are drawn on the CPU from the run's ChaCha stream, so the same seed gives the
//! same actions bit for bit.

use rand::Rng as _;
use tch::Kind;
use turnwise_core::seed::Rng;

use super::Policy;

/// One generated action: its token ids and their log-probs under the raw distribution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    /// Token ids, the stop token included when it was produced.
    pub ids: Vec<u32>,
    /// log π(token) at temperature 1.
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
    ) -> Vec<Generated> {
        let mut seqs: Vec<Vec<u32>> = contexts.to_vec();
        let mut out = vec![Generated::default(); contexts.len()];
        let mut live: Vec<usize> = (0..contexts.len()).collect();
        tch::no_grad(|| {
            for _ in 0..spec.max_new {
                if live.is_empty() {
                    break;
                }
                let refs: Vec<&[u32]> = live.iter().map(|&i| seqs[i].as_slice()).collect();
                let (ids, valid) = Policy::pad(&refs);
                let logits = self
                    .model
                    .forward(&ids, &valid)
                    .select(1, -1)
                    .to_kind(Kind::Double);
                let logp = logits.log_softmax(-1, Kind::Double);
                let probs = (&logits / spec.temperature).softmax(-1, Kind::Double);
                let v = logp.size()[1] as usize;
                let logp: Vec<f64> = Vec::try_from(logp.view([-1])).expect("f64 logits");
                let probs: Vec<f64> = Vec::try_from(probs.view([-1])).expect("f64 probs");
                let mut next_live = Vec::with_capacity(live.len());
                for (row, &i) in live.iter().enumerate() {
                    let p = &probs[row * v..(row + 1) * v];
                    let tok = if spec.greedy {
                        argmax(p)
                    } else {
                        draw(p, rng.random::<f64>())
                    };
                    seqs[i].push(tok as u32);
                    out[i].ids.push(tok as u32);
                    out[i].logprobs.push(logp[row * v + tok] as f32);
                    if Some(tok as u32) == spec.stop {
                        out[i].stopped = true;
                    } else {
                        next_live.push(i);
                    }
                }
                live = next_live;
            }
        });
        out
    }
}

fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in p.iter().enumerate() {
        if x > p[best] {
            best = i;
        }
    }
    best
}

/// Inverse-CDF draw from `p` with uniform `u`; never returns a zero-probability token.
fn draw(p: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &x) in p.iter().enumerate() {
        if x <= 0.0 {
            continue;
        }
        acc += x;
        last = i;
        if u < acc {
            return i;
        }
    }
    last
}
