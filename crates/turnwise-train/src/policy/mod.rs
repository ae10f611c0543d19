//! The policy the trainer optimises: turnwise-model's Llama-layout transformer
//! ([`turnwise_model::Policy`]) with a [`tokenizer::WordTokenizer`], batched KV-cache sampling
//! ([`generate`]), and teacher-forced log-probs and entropies of action tokens through the
//! model's scoring path ([`turnwise_model::Policy::token_logprobs`]). Saved in the Hugging
//! Face folder layout (`config.json`, `model.safetensors`, `tokenizer.json`).

pub mod codec;
pub mod generate;
pub mod tokenizer;

use std::path::Path;

use anyhow::{Context, Result};
use tch::{Device, Kind, Tensor};
use turnwise_model::DType;

use crate::config::ModelConfig;
pub use codec::PolicyTokenizer;
pub use tokenizer::WordTokenizer;

/// Where the networks live, the dtype of their weights and activations (`run.device`,
/// `model.dtype`) and whether layer activations are recomputed in the backward pass. Under a 16-bit dtype the optimiser keeps f32 master weights and moments
/// ([`crate::optim::AdamW`]); log-probs, entropies and values always come back in f32 on
/// the CPU, where the per-token loss terms are computed (autograd carries the gradients back
/// across the copy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// `cpu`, `cuda:N`.
    pub device: Device,
    /// f32, bf16 or f16.
    pub dtype: DType,
    /// Activation checkpointing of the decoder layers (`model.gradient_checkpointing`;
    /// gradients then come from [`turnwise_model::Policy::backward`]).
    pub gradient_checkpointing: bool,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            device: Device::Cpu,
            dtype: DType::F32,
            gradient_checkpointing: false,
        }
    }
}

impl Placement {
    /// The placement a configuration asks for (`run.device`, `model.dtype`; validated
    /// with the configuration, so an error here names the key too).
    pub fn of(cfg: &crate::config::Config) -> Result<Self> {
        Ok(Placement {
            device: cfg.run.device()?,
            dtype: cfg.model.dtype()?,
            gradient_checkpointing: cfg.model.gradient_checkpointing,
        })
    }
}

/// A policy: the network (its variables inside) and the tokenizer.
pub struct Policy {
    /// The network (turnwise-model) on its [`Placement`].
    pub model: turnwise_model::Policy,
    /// The tokenizer.
    pub tokenizer: PolicyTokenizer,
}

/// Teacher-forced quantities of action tokens: [R, A] tensors, A = longest action.
pub struct ActionScores {
    /// log π(a_k | context, a_<k).
    pub logp: Tensor,
    /// Entropy of the full next-token distribution at each action token.
    pub entropy: Tensor,
    /// 1 on action tokens, 0 on padding.
    pub mask: Tensor,
}

/// The turnwise-model configuration of `[model]`: the named turnwise-model preset (Llama
/// layout: RMSNorm, RoPE, SwiGLU) resized to the section's width, depth, heads, MLP width
/// and context, with the tokenizer's vocabulary.
pub fn model_config(cfg: &ModelConfig, vocab_size: usize) -> Result<turnwise_model::ModelConfig> {
    anyhow::ensure!(
        cfg.d_model > 0 && cfg.heads > 0 && cfg.layers > 0 && cfg.d_ff > 0 && cfg.max_context > 0,
        "model: d_model, layers, heads, d_ff and max_context must be positive"
    );
    anyhow::ensure!(
        cfg.d_model % cfg.heads == 0,
        "model.d_model ({}) must be a multiple of model.heads ({})",
        cfg.d_model,
        cfg.heads
    );
    let mut m = turnwise_model::ModelConfig::preset(&cfg.preset, Some(vocab_size))
        .map_err(|e| anyhow::anyhow!("model.preset: {e}"))?;
    m.architectures = vec!["LlamaForCausalLM".into()];
    m.hidden_size = cfg.d_model as usize;
    m.num_hidden_layers = cfg.layers as usize;
    m.num_attention_heads = cfg.heads as usize;
    m.num_key_value_heads = Some(cfg.heads as usize);
    m.intermediate_size = cfg.d_ff as usize;
    m.max_position_embeddings = cfg.max_context as usize;
    m.validate(Path::new("[model]"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(m)
}

impl Policy {
    /// A freshly initialised policy (weights from `seed`), on the CPU in f32.
    pub fn new(cfg: &ModelConfig, tokenizer: WordTokenizer, seed: u64) -> Result<Self> {
        Self::new_on(cfg, tokenizer, seed, Placement::default())
    }

    /// [`Policy::new`] on `place` (the weights are drawn in f32, then converted, so every
    /// placement starts from the same values).
    pub fn new_on(
        cfg: &ModelConfig,
        tokenizer: WordTokenizer,
        seed: u64,
        place: Placement,
    ) -> Result<Self> {
        let mc = model_config(cfg, tokenizer.vocab_size())?;
        let mut model = turnwise_model::Policy::new(mc, place.device, place.dtype, seed)?;
        model.set_gradient_checkpointing(place.gradient_checkpointing);
        Ok(Policy {
            model,
            tokenizer: PolicyTokenizer::Word(tokenizer),
        })
    }

    /// Saves `config.json`, `model.safetensors` (turnwise-model's Hugging Face writer) and
    /// the tokenizer files into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.model.save(dir)?;
        if let Some(c) = self.model.lora_config() {
            // Merged weights above (any tool reads them); the adapters alone, for resuming.
            self.model.save_lora_adapter(dir, c)?;
        }
        self.tokenizer.save(dir)
    }

    /// Loads a policy folder: one saved by [`Policy::save`], or a Hugging Face checkpoint
    /// folder (`config.json`, `model.safetensors` or shards, `tokenizer.json`), on the CPU in
    /// f32.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_on(dir, Placement::default())
    }

    /// [`Policy::load`] on `place` (weights converted to its dtype).
    pub fn load_on(dir: &Path, place: Placement) -> Result<Self> {
        let tokenizer = PolicyTokenizer::from_dir(dir)?;
        let mut model = turnwise_model::Policy::load(dir, place.device, place.dtype)?;
        model.set_gradient_checkpointing(place.gradient_checkpointing);
        anyhow::ensure!(
            tokenizer.vocab_size() <= model.config.vocab_size,
            "{}: vocab_size {} is smaller than the tokenizer's {} ids",
            dir.join("config.json").display(),
            model.config.vocab_size,
            tokenizer.vocab_size()
        );
        Ok(Policy { model, tokenizer })
    }

    /// The trainable tensors (the adapters only under LoRA), in a fixed (name) order.
    pub fn parameters(&self) -> Vec<Tensor> {
        let mut named: Vec<(String, Tensor)> = self
            .model
            .var_store()
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named.into_iter().map(|(_, t)| t).collect()
    }

    /// Left-padded ids [B, L] and validity [B, L] of `seqs`.
    pub fn pad(seqs: &[&[u32]]) -> (Tensor, Tensor) {
        let l = seqs.iter().map(|s| s.len()).max().unwrap_or(1).max(1);
        let mut ids = Vec::with_capacity(seqs.len() * l);
        let mut valid = Vec::with_capacity(seqs.len() * l);
        for s in seqs {
            ids.extend(std::iter::repeat_n(0i64, l - s.len()));
            ids.extend(s.iter().map(|&x| x as i64));
            valid.extend(std::iter::repeat_n(false, l - s.len()));
            valid.extend(std::iter::repeat_n(true, s.len()));
        }
        let b = seqs.len() as i64;
        (
            Tensor::from_slice(&ids).view([b, l as i64]),
            Tensor::from_slice(&valid).view([b, l as i64]),
        )
    }

    /// Teacher-forced log-probs and entropies of the last `action_len[r]` tokens of each
    /// sequence `seqs[r]` (context followed by action), through
    /// [`turnwise_model::Policy::token_logprobs`] on the left-padded batch (positions count
    /// real tokens only, so a padded row scores exactly what it would alone).
    ///
    /// The model runs on its device in its dtype; the scores come back as f32 on the CPU
    /// (differentiable copies), where the losses are computed.
    pub fn score_actions(&self, seqs: &[&[u32]], action_len: &[usize]) -> Result<ActionScores> {
        let (ids, valid) = Self::pad(seqs);
        let l = ids.size()[1];
        let a = action_len.iter().copied().max().unwrap_or(1).max(1);
        let positions = (valid.to_kind(Kind::Int64).cumsum(1, Kind::Int64) - 1).clamp_min(0);
        let dev = self.model.device();
        let stats = self.model.token_logprobs(
            &ids.to_device(dev),
            &positions.to_device(dev),
            Some(&valid.to_device(dev)),
            1.0,
            true,
        )?;
        // f32 (an f64 model, for gradient checks, stays f64).
        let host = |t: Tensor| match t.kind() {
            Kind::Double => t.to_device(Device::Cpu),
            _ => t.to_kind(Kind::Float).to_device(Device::Cpu),
        };
        let entropy_all = host(stats.entropy.context("entropy requested")?);
        let stats_logprobs = host(stats.logprobs);
        let mut pos = Vec::with_capacity(seqs.len() * a);
        let mut mask = Vec::with_capacity(seqs.len() * a);
        for &n in action_len {
            // Action token k sits at column l − n + k (column t scores token t).
            for k in 0..a {
                let p = if k < n {
                    l - n as i64 + k as i64
                } else {
                    l - 1
                };
                pos.push(p.max(1));
                mask.push(if k < n { 1.0f32 } else { 0.0 });
            }
        }
        let r = seqs.len() as i64;
        let pos = Tensor::from_slice(&pos).view([r, a as i64]);
        Ok(ActionScores {
            logp: stats_logprobs.gather(1, &pos, false),
            entropy: entropy_all.gather(1, &pos, false),
            mask: Tensor::from_slice(&mask).view([r, a as i64]),
        })
    }
}
