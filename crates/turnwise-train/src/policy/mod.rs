//! The policy the trainer optimises: a [`tiny::TinyLm`] with a [`tokenizer::WordTokenizer`],
//! batched sampling, and teacher-forced log-probs and entropies of action tokens. Saved in
//! the Hugging Face folder layout (`config.json`, `model.safetensors`, `tokenizer.json`).

pub mod sample;
pub mod tiny;
pub mod tokenizer;

use std::path::Path;

use anyhow::{Context, Result};
use tch::{nn, Device, Kind, Tensor};

use crate::config::ModelConfig;
pub use tiny::{TinyConfig, TinyLm};
pub use tokenizer::WordTokenizer;

/// A policy: variables, model and tokenizer.
pub struct Policy {
    /// The variables (trainable).
    pub vs: nn::VarStore,
    /// The network.
    pub model: TinyLm,
    /// The tokenizer.
    pub tokenizer: WordTokenizer,
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

impl Policy {
    /// A freshly initialised policy (weights from `seed`).
    pub fn new(cfg: &ModelConfig, tokenizer: WordTokenizer, seed: u64) -> Result<Self> {
        anyhow::ensure!(
            cfg.preset == "tiny",
            "model.preset: unknown preset `{}` (known: tiny)",
            cfg.preset
        );
        anyhow::ensure!(
            cfg.d_model % cfg.heads == 0,
            "model.d_model ({}) must be a multiple of model.heads ({})",
            cfg.d_model,
            cfg.heads
        );
        let tc = TinyConfig {
            vocab_size: tokenizer.vocab_size() as i64,
            d_model: cfg.d_model,
            layers: cfg.layers,
            heads: cfg.heads,
            d_ff: cfg.d_ff,
            max_context: cfg.max_context,
        };
        // libtorch's generator is global: seeding and initialising under one lock keeps
        // concurrent constructions (tests, tools) from interleaving their draws.
        static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
        tch::manual_seed(seed as i64);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = TinyLm::new(&vs.root(), tc);
        Ok(Policy {
            vs,
            model,
            tokenizer,
        })
    }

    /// Saves `config.json`, `model.safetensors` and `tokenizer.json` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let cfg = serde_json::json!({
            "architectures": ["TurnwiseTinyLM"],
            "model_type": "turnwise-tiny",
            "vocab_size": self.model.cfg.vocab_size,
            "hidden_size": self.model.cfg.d_model,
            "num_hidden_layers": self.model.cfg.layers,
            "num_attention_heads": self.model.cfg.heads,
            "intermediate_size": self.model.cfg.d_ff,
            "max_position_embeddings": self.model.cfg.max_context,
        });
        turnwise_core::jsonl::write_atomic(
            &dir.join("config.json"),
            serde_json::to_string_pretty(&cfg)?.as_bytes(),
        )?;
        let tok = serde_json::json!({"model": {"type": "turnwise-word", "pieces": self.tokenizer.pieces}});
        turnwise_core::jsonl::write_atomic(
            &dir.join("tokenizer.json"),
            tok.to_string().as_bytes(),
        )?;
        let tmp = dir.join("model.tmp.safetensors");
        self.vs.save(&tmp)?;
        std::fs::rename(&tmp, dir.join("model.safetensors"))?;
        Ok(())
    }

    /// Loads a policy saved by [`Policy::save`].
    pub fn load(dir: &Path) -> Result<Self> {
        let read = |n: &str| -> Result<serde_json::Value> {
            let p = dir.join(n);
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
        };
        let c = read("config.json")?;
        let field = |k: &str| -> Result<i64> {
            c[k].as_i64().with_context(|| {
                format!(
                    "{}: missing integer `{k}`",
                    dir.join("config.json").display()
                )
            })
        };
        let tc = TinyConfig {
            vocab_size: field("vocab_size")?,
            d_model: field("hidden_size")?,
            layers: field("num_hidden_layers")?,
            heads: field("num_attention_heads")?,
            d_ff: field("intermediate_size")?,
            max_context: field("max_position_embeddings")?,
        };
        let t = read("tokenizer.json")?;
        let pieces: Vec<String> = serde_json::from_value(t["model"]["pieces"].clone())
            .with_context(|| format!("{}: model.pieces", dir.join("tokenizer.json").display()))?;
        let mut vs = nn::VarStore::new(Device::Cpu);
        let model = TinyLm::new(&vs.root(), tc);
        vs.load(dir.join("model.safetensors"))?;
        Ok(Policy {
            vs,
            model,
            tokenizer: WordTokenizer::from_pieces(pieces),
        })
    }

    /// The trainable tensors, in a fixed (name) order.
    pub fn parameters(&self) -> Vec<Tensor> {
        let mut named: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
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
    /// sequence `seqs[r]` (context followed by action).
    pub fn score_actions(&self, seqs: &[&[u32]], action_len: &[usize]) -> ActionScores {
        let (ids, valid) = Self::pad(seqs);
        let l = ids.size()[1];
        let a = action_len.iter().copied().max().unwrap_or(1).max(1);
        let logp_all = self
            .model
            .forward(&ids, &valid)
            .log_softmax(-1, Kind::Float);
        let v = logp_all.size()[2];
        let mut pos = Vec::with_capacity(seqs.len() * a);
        let mut mask = Vec::with_capacity(seqs.len() * a);
        for &n in action_len {
            // Action token k sits at column l − n + k; it is predicted from column l − n + k − 1.
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
        let target = ids.gather(1, &pos, false);
        let dist = logp_all.gather(
            1,
            &(&pos - 1).unsqueeze(-1).expand([r, a as i64, v], false),
            false,
        );
        let logp = dist.gather(2, &target.unsqueeze(-1), false).squeeze_dim(-1);
        let entropy = -(dist.exp() * &dist).sum_dim_intlist(-1, false, Kind::Float);
        ActionScores {
            logp,
            entropy,
            mask: Tensor::from_slice(&mask).view([r, a as i64]),
        }
    }
}
