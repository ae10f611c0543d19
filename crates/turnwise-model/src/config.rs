//! The model configuration: the Hugging Face `config.json` of a `LlamaForCausalLM` or
//! `Qwen2ForCausalLM`, read as is (unknown fields are kept and written back on save), and
//! presets for tiny from-scratch models.

use crate::error::{ModelError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

/// A decoder-only transformer configuration in Hugging Face naming
/// (`transformers.LlamaConfig` / `transformers.Qwen2Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// `"llama"` or `"qwen2"`; decides the default of the attention biases.
    pub model_type: String,
    /// Class names, e.g. `["Qwen2ForCausalLM"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Vocabulary size V (rows of `embed_tokens`).
    pub vocab_size: usize,
    /// Model width d.
    pub hidden_size: usize,
    /// SwiGLU inner width (`gate_proj`/`up_proj` rows).
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention, Ainslie et al. 2023); defaults to the query heads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_key_value_heads: Option<usize>,
    /// Per-head width; defaults to `hidden_size / num_attention_heads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    /// Activation of the gated MLP; only `"silu"` (SwiGLU, Shazeer 2020) is supported.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Longest position the model was trained for (informational).
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: usize,
    /// RMSNorm epsilon (Zhang & Sennrich 2019).
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// Rotary base θ (Su et al. 2021, RoFormer Eq. 15).
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
    /// Rotary scaling; only `null` or `{"rope_type": "default"}` is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_scaling: Option<Value>,
    /// Whether `lm_head` shares the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Llama: biases on q/k/v/o projections. Qwen2 always has q/k/v biases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_bias: Option<bool>,
    /// Llama: biases on the MLP projections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlp_bias: Option<bool>,
    /// Std of the normal initialisation of from-scratch weights.
    #[serde(default = "default_init_range")]
    pub initializer_range: f64,
    /// Beginning-of-sequence token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bos_token_id: Option<Value>,
    /// End-of-sequence token(s): one id or a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eos_token_id: Option<Value>,
    /// Qwen2 sliding-window attention; must be off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_sliding_window: Option<bool>,
    /// Every other field, kept verbatim so a saved config round-trips.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_act() -> String {
    "silu".into()
}
fn default_max_pos() -> usize {
    2048
}
fn default_eps() -> f64 {
    1e-6
}
fn default_theta() -> f64 {
    10_000.0
}
fn default_init_range() -> f64 {
    0.02
}

/// Which projections carry biases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Biases {
    /// q/k/v projections.
    pub qkv: bool,
    /// The attention output projection.
    pub o: bool,
    /// gate/up/down projections.
    pub mlp: bool,
}

impl ModelConfig {
    /// Reads and validates a `config.json`; errors name the file, line, column and field.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        Self::from_json(&text, path)
    }

    /// Parses and validates config text; `path` is used in error messages only.
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let cfg: ModelConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            ModelError::Json {
                path: path.to_path_buf(),
                line: inner.line(),
                column: inner.column(),
                field,
                message: inner.to_string(),
            }
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Checks the fields turnwise relies on.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |field: &str, message: String| {
            Err(ModelError::Config {
                path: path.to_path_buf(),
                field: field.into(),
                message,
            })
        };
        if !matches!(self.model_type.as_str(), "llama" | "qwen2") {
            return bad(
                "model_type",
                format!("`{}` is not supported (llama, qwen2)", self.model_type),
            );
        }
        if self.hidden_act != "silu" {
            return bad(
                "hidden_act",
                format!("`{}` is not supported (silu)", self.hidden_act),
            );
        }
        for (f, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
        ] {
            if v == 0 {
                return bad(f, "must be positive".into());
            }
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(
                "num_attention_heads",
                format!("does not divide hidden_size {}", self.hidden_size),
            );
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad("head_dim", "rotary embeddings need an even head_dim".into());
        }
        let kv = self.num_kv_heads();
        if kv == 0 || !self.num_attention_heads.is_multiple_of(kv) {
            return bad(
                "num_key_value_heads",
                format!(
                    "{kv} must divide num_attention_heads {}",
                    self.num_attention_heads
                ),
            );
        }
        if let Some(rs) = &self.rope_scaling {
            let ty = rs
                .get("rope_type")
                .or_else(|| rs.get("type"))
                .and_then(Value::as_str);
            if !rs.is_null() && ty != Some("default") {
                return bad(
                    "rope_scaling",
                    format!("{rs} is not supported (only null or rope_type \"default\")"),
                );
            }
        }
        if self.use_sliding_window == Some(true) {
            return bad(
                "use_sliding_window",
                "sliding-window attention is not supported".into(),
            );
        }
        Ok(())
    }

    /// Key/value heads.
    pub fn num_kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Bias layout: Qwen2 has q/k/v biases; Llama follows `attention_bias` / `mlp_bias`.
    pub fn biases(&self) -> Biases {
        let attn = self.attention_bias.unwrap_or(false);
        Biases {
            qkv: self.model_type == "qwen2" || attn,
            o: self.model_type != "qwen2" && attn,
            mlp: self.mlp_bias.unwrap_or(false),
        }
    }

    /// End-of-sequence ids (`eos_token_id` as one id or a list).
    pub fn eos_token_ids(&self) -> Vec<u32> {
        match &self.eos_token_id {
            Some(Value::Number(n)) => n.as_u64().map(|v| vec![v as u32]).unwrap_or_default(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_u64)
                .map(|v| v as u32)
                .collect(),
            _ => vec![],
        }
    }

    /// The JSON written as `config.json` on save (Hugging Face compatible).
    pub fn to_json(&self, torch_dtype: &str) -> String {
        let mut v = serde_json::to_value(self).expect("config serialises");
        if let Value::Object(m) = &mut v {
            m.remove("torch_dtype");
            m.insert("dtype".into(), Value::String(torch_dtype.into()));
            if self.architectures.is_empty() {
                let arch = if self.model_type == "qwen2" {
                    "Qwen2ForCausalLM"
                } else {
                    "LlamaForCausalLM"
                };
                m.insert("architectures".into(), serde_json::json!([arch]));
            }
        }
        serde_json::to_string_pretty(&v).expect("config serialises")
    }

    /// Number of parameters (weights and biases) of this layout.
    pub fn num_parameters(&self) -> usize {
        let (d, v, f, h) = (
            self.hidden_size,
            self.vocab_size,
            self.intermediate_size,
            self.head_dim(),
        );
        let (q, kv) = (self.num_attention_heads * h, self.num_kv_heads() * h);
        let b = self.biases();
        let attn = d * q
            + 2 * d * kv
            + q * d
            + if b.qkv { q + 2 * kv } else { 0 }
            + if b.o { d } else { 0 };
        let mlp = 3 * d * f + if b.mlp { 2 * f + d } else { 0 };
        let layer = attn + mlp + 2 * d;
        v * d
            + self.num_hidden_layers * layer
            + d
            + if self.tie_word_embeddings { 0 } else { v * d }
    }
}

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
            rope_theta: default_theta(),
            rope_scaling: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_field_names_file_line_and_field() {
        let text = "{\n \"model_type\": \"llama\",\n \"vocab_size\": \"many\"\n}";
        let e = ModelConfig::from_json(text, Path::new("x/config.json")).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("x/config.json:3:") && s.contains("vocab_size"),
            "{s}"
        );
    }

    #[test]
    fn unsupported_rope_scaling_is_named() {
        let mut c = ModelConfig::preset("tiny", None).unwrap();
        c.rope_scaling = Some(serde_json::json!({"rope_type": "yarn", "factor": 4.0}));
        let s = c.validate(Path::new("c.json")).unwrap_err().to_string();
        assert!(s.contains("rope_scaling"), "{s}");
    }

    #[test]
    fn tiny_preset_counts_parameters() {
        let c = ModelConfig::preset("tiny", None).unwrap();
        // embed + lm_head 2·512·256, per layer 4·256² + 3·256·1024 + 2·256, final norm 256.
        let per_layer = 4 * 256 * 256 + 3 * 256 * 1024 + 2 * 256;
        assert_eq!(c.num_parameters(), 2 * 512 * 256 + 4 * per_layer + 256);
        assert_eq!(
            c.biases(),
            Biases {
                qkv: false,
                o: false,
                mlp: false
            }
        );
        let q = ModelConfig::preset("tiny-qwen2", None).unwrap();
        assert!(q.biases().qkv && !q.biases().o);
    }

    #[test]
    fn config_round_trips_unknown_fields() {
        let text = r#"{"model_type":"qwen2","vocab_size":10,"hidden_size":8,"intermediate_size":16,
            "num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"sliding_window":4096,
            "eos_token_id":[3,4]}"#;
        let c = ModelConfig::from_json(text, Path::new("c.json")).unwrap();
        assert_eq!(c.eos_token_ids(), vec![3, 4]);
        let back = ModelConfig::from_json(&c.to_json("float32"), Path::new("c.json")).unwrap();
        assert_eq!(
            back.extra.get("sliding_window"),
            Some(&serde_json::json!(4096))
        );
        assert_eq!(back.num_kv_heads(), 1);
    }
}
