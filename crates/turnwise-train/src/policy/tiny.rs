//! A small pre-LayerNorm causal transformer (GPT-2 layout: Radford et al. 2019; Vaswani et
//! al. 2017 attention), trained from scratch for short text tasks. Sequences are
//! left-padded; positions count valid tokens only, so a padded row computes exactly what
//! it would alone.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// Shape of the tiny transformer (saved as `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TinyConfig {
    /// Vocabulary size.
    pub vocab_size: i64,
    /// Embedding width.
    pub d_model: i64,
    /// Blocks.
    pub layers: i64,
    /// Attention heads.
    pub heads: i64,
    /// Feed-forward width.
    pub d_ff: i64,
    /// Position table size.
    pub max_context: i64,
}

struct Block {
    ln1: nn::LayerNorm,
    qkv: nn::Linear,
    proj: nn::Linear,
    ln2: nn::LayerNorm,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

/// The model: token and position embeddings, blocks, final norm, LM head.
pub struct TinyLm {
    /// Its shape.
    pub cfg: TinyConfig,
    tok: nn::Embedding,
    pos: nn::Embedding,
    blocks: Vec<Block>,
    ln_f: nn::LayerNorm,
    head: nn::Linear,
}

impl TinyLm {
    /// Creates the variables under `p` (initialised by `tch`'s defaults from the global seed).
    pub fn new(p: &nn::Path, cfg: TinyConfig) -> Self {
        let d = cfg.d_model;
        let ln = |p: nn::Path| nn::layer_norm(p, vec![d], Default::default());
        let blocks = (0..cfg.layers)
            .map(|i| {
                let b = p / "layers" / i;
                Block {
                    ln1: ln(&b / "ln1"),
                    qkv: nn::linear(&b / "qkv", d, 3 * d, Default::default()),
                    proj: nn::linear(&b / "proj", d, d, Default::default()),
                    ln2: ln(&b / "ln2"),
                    fc1: nn::linear(&b / "fc1", d, cfg.d_ff, Default::default()),
                    fc2: nn::linear(&b / "fc2", cfg.d_ff, d, Default::default()),
                }
            })
            .collect();
        TinyLm {
            cfg,
            tok: nn::embedding(p / "embed_tokens", cfg.vocab_size, d, Default::default()),
            pos: nn::embedding(
                p / "embed_positions",
                cfg.max_context,
                d,
                Default::default(),
            ),
            blocks,
            ln_f: ln(p / "norm"),
            head: nn::linear(p / "lm_head", d, cfg.vocab_size, Default::default()),
        }
    }

    /// Logits [B, T, V] of token ids [B, T] (i64) with `valid` [B, T] (bool, false = padding).
    pub fn forward(&self, ids: &Tensor, valid: &Tensor) -> Tensor {
        let (b, t) = ids.size2().expect("ids are [B, T]");
        let h = self.cfg.heads;
        let dh = self.cfg.d_model / h;
        let pos = (valid.to_kind(Kind::Int64).cumsum(1, Kind::Int64) - 1)
            .clamp(0, self.cfg.max_context - 1);
        let mut x = self.tok.forward(ids) + self.pos.forward(&pos);
        let causal = Tensor::ones([t, t], (Kind::Bool, ids.device())).tril(0);
        let eye = Tensor::eye(t, (Kind::Bool, ids.device()));
        let allowed = causal
            .logical_and(&valid.view([b, 1, 1, t]))
            .logical_or(&eye);
        let neg = Tensor::zeros([b, 1, t, t], (Kind::Float, ids.device()))
            .masked_fill(&allowed.logical_not(), f64::NEG_INFINITY);
        for blk in &self.blocks {
            let a = blk.ln1.forward(&x);
            let qkv = blk
                .qkv
                .forward(&a)
                .view([b, t, 3, h, dh])
                .permute([2, 0, 3, 1, 4]);
            let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
            let att = (q.matmul(&k.transpose(-2, -1)) / (dh as f64).sqrt() + &neg)
                .softmax(-1, Kind::Float);
            let y = att
                .matmul(&v)
                .transpose(1, 2)
                .contiguous()
                .view([b, t, self.cfg.d_model]);
            x = &x + blk.proj.forward(&y);
            let m = blk.ln2.forward(&x);
            x = &x + blk.fc2.forward(&blk.fc1.forward(&m).gelu("none"));
        }
        self.head.forward(&self.ln_f.forward(&x))
    }
}
