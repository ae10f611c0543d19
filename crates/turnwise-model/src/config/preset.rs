//! Named from-scratch configurations (`turnwise model init --preset NAME`).

use super::{default_act, default_init_range, ModelConfig};
use crate::error::{ModelError, Result};
use serde_json::Map;
use std::path::Path;

/// A named from-scratch configuration.
pub struct Preset {
    /// The name given to `--preset`.
    pub name: &'static str,
    /// What it is for.
    pub doc: &'static str,
    /// `model_type`, vocab, width, layers, heads, kv heads, MLP width.
    pub shape: (&'static str, usize, usize, usize, usize, usize, usize),
}

/// The preset registry.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "tiny",
        doc: "the benchmark model: Llama layout, vocab 512, d 256, 4 layers, 4 heads, MLP 1024 (3.2M parameters)",
        shape: ("llama", 512, 256, 4, 4, 4, 1024),
    },
    Preset {
        name: "tiny-qwen2",
        doc: "Qwen2 layout with q/k/v biases and GQA (4 query, 2 kv heads), vocab 512, d 256, 4 layers, MLP 1024",
        shape: ("qwen2", 512, 256, 4, 4, 2, 1024),
    },
    Preset {
        name: "small",
        doc: "Llama layout, vocab 8192, d 512, 8 layers, 8 heads (4 kv), MLP 1408 (~30M parameters)",
        shape: ("llama", 8192, 512, 8, 8, 4, 1408),
    },
];

impl ModelConfig {
    /// The configuration of a registered preset; `vocab_size` overrides the preset's vocabulary.
    pub fn preset(name: &str, vocab_size: Option<usize>) -> Result<Self> {
        let p = PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
            let names: Vec<_> = PRESETS.iter().map(|p| p.name).collect();
            ModelError::option(
                "preset",
                format!("unknown preset `{name}` (known: {})", names.join(", ")),
            )
        })?;
        let (ty, v, d, l, h, kv, f) = p.shape;
        let cfg = ModelConfig {
            model_type: ty.into(),
            architectures: vec![],
            vocab_size: vocab_size.unwrap_or(v),
            hidden_size: d,
            intermediate_size: f,
            num_hidden_layers: l,
            num_attention_heads: h,
            num_key_value_heads: Some(kv),
            head_dim: None,
            hidden_act: default_act(),
            max_position_embeddings: 4096,
            rms_norm_eps: 1e-5,
            rope_theta: None,
            rope_scaling: None,
            rope_parameters: None,
            tie_word_embeddings: false,
            attention_bias: None,
            mlp_bias: None,
            initializer_range: default_init_range(),
            bos_token_id: None,
            eos_token_id: None,
            use_sliding_window: None,
            extra: Map::new(),
        };
        cfg.validate(Path::new(&format!("<preset {name}>")))?;
        Ok(cfg)
    }
}
