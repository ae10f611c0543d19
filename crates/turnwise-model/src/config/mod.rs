//! The model configuration: the Hugging Face `config.json` of a `LlamaForCausalLM`,
//! `Qwen2ForCausalLM` or `Qwen3ForCausalLM` as `transformers` 4.x or 5.x writes it, and presets
//! for tiny from-scratch models. Inert fields are kept and written back on save; a field that
//! would change the maths and that turnwise does not implement is an error naming it
//! ([`keys`], [`rope`]).

pub mod keys;
pub mod preset;
pub mod rope;

use crate::error::{ModelError, Result};
pub use preset::{Preset, PRESETS};
pub use rope::{RopeScaling, RopeSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

/// A decoder-only transformer configuration in Hugging Face naming
/// (`transformers.LlamaConfig` / `transformers.Qwen2Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// `"llama"`, `"qwen2"` or `"qwen3"`; decides the biases and Qwen3's q/k norms.
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
    /// Rotary base θ (Su et al. 2021, RoFormer Eq. 15), 4.x layout (default 10 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
    /// Rotary scaling, 4.x layout: `null` or `{"rope_type": …, "factor": …, …}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_scaling: Option<Value>,
    /// Rotary settings, 5.x layout: `{"rope_type": …, "rope_theta": …, …}`; see [`RopeSpec`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_parameters: Option<Value>,
    /// Whether `lm_head` shares the embedding matrix.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Llama, Qwen3: biases on q/k/v/o projections. Qwen2 always has q/k/v biases (and
    /// ignores this field, as `transformers` does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_bias: Option<bool>,
    /// Llama: biases on the MLP projections (Qwen2/Qwen3 never have them).
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
    /// Qwen2/Qwen3 sliding-window attention; must be off (or apply to no layer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_sliding_window: Option<bool>,
    /// Every other field, kept verbatim so a saved config round-trips; only fields that do
    /// not change the model are accepted ([`keys::check_extra`]).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub(crate) fn default_act() -> String {
    "silu".into()
}
fn default_max_pos() -> usize {
    2048
}
fn default_eps() -> f64 {
    1e-6
}
pub(crate) fn default_init_range() -> f64 {
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
        if !matches!(self.model_type.as_str(), "llama" | "qwen2" | "qwen3") {
            return bad(
                "model_type",
                format!(
                    "`{}` is not supported (llama, qwen2, qwen3)",
                    self.model_type
                ),
            );
        }
        let class = self.class_name();
        if let Some(a) = self.architectures.iter().find(|a| *a != class) {
            return bad(
                "architectures",
                format!(
                    "`{a}` is not supported with model_type `{}` (expected {class})",
                    self.model_type
                ),
            );
        }
        if let Err((field, message)) = keys::check_extra(&self.extra) {
            return bad(&field, message);
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
        if let Err((field, message)) = self.rope() {
            return bad(&field, message);
        }
        if let Some(i) = self.sliding_layer() {
            return bad(
                "use_sliding_window",
                format!("sliding-window attention (layer {i} and more) is not supported"),
            );
        }
        Ok(())
    }

    /// The `transformers` class of this layout.
    pub fn class_name(&self) -> &'static str {
        match self.model_type.as_str() {
            "qwen2" => "Qwen2ForCausalLM",
            "qwen3" => "Qwen3ForCausalLM",
            _ => "LlamaForCausalLM",
        }
    }

    /// The rotary embedding, from either `config.json` layout; `Err((field, message))` when
    /// it is not supported or the layouts disagree.
    pub fn rope(&self) -> std::result::Result<RopeSpec, rope::FieldError> {
        RopeSpec::resolve(
            self.rope_theta,
            self.rope_scaling.as_ref(),
            self.rope_parameters.as_ref(),
            self.max_position_embeddings,
        )
    }

    /// The first layer that would use sliding-window attention in `transformers`
    /// (Qwen2/Qwen3: `use_sliding_window` and that layer's `layer_types` entry, or
    /// index ≥ `max_window_layers` when `layer_types` is absent).
    fn sliding_layer(&self) -> Option<usize> {
        if self.model_type == "llama" || self.use_sliding_window != Some(true) {
            return None;
        }
        if let Some(Value::Array(types)) = self.extra.get("layer_types") {
            return types
                .iter()
                .position(|t| t.as_str() == Some("sliding_attention"));
        }
        let full = self
            .extra
            .get("max_window_layers")
            .and_then(Value::as_u64)
            .unwrap_or(28) as usize;
        (full < self.num_hidden_layers).then_some(full)
    }

    /// Whether attention applies per-head RMSNorm to queries and keys (Qwen3).
    pub fn qk_norm(&self) -> bool {
        self.model_type == "qwen3"
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

    /// Bias layout as `transformers` builds it: Qwen2 always has q/k/v biases and nothing
    /// else; Qwen3 follows `attention_bias` (q/k/v/o); Llama follows `attention_bias` and
    /// `mlp_bias`.
    pub fn biases(&self) -> Biases {
        let attn = self.attention_bias.unwrap_or(false);
        match self.model_type.as_str() {
            "qwen2" => Biases {
                qkv: true,
                o: false,
                mlp: false,
            },
            "qwen3" => Biases {
                qkv: attn,
                o: attn,
                mlp: false,
            },
            _ => Biases {
                qkv: attn,
                o: attn,
                mlp: self.mlp_bias.unwrap_or(false),
            },
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

    /// The JSON written as `config.json` on save: loadable by `transformers` 4.x and 5.x
    /// alike (the rotary settings in both layouts, the weights' `dtype`).
    pub fn to_json(&self, torch_dtype: &str) -> String {
        let mut v = serde_json::to_value(self).expect("config serialises");
        if let Value::Object(m) = &mut v {
            m.remove("torch_dtype");
            m.insert("dtype".into(), Value::String(torch_dtype.into()));
            if self.architectures.is_empty() {
                m.insert(
                    "architectures".into(),
                    serde_json::json!([self.class_name()]),
                );
            }
            if let Ok(rope) = self.rope() {
                let (theta, scaling, params) = rope.to_layouts();
                m.insert("rope_theta".into(), theta);
                m.insert("rope_scaling".into(), scaling);
                m.insert("rope_parameters".into(), params);
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
        let qk_norm = if self.qk_norm() { 2 * h } else { 0 };
        let layer = attn + mlp + 2 * d + qk_norm;
        v * d
            + self.num_hidden_layers * layer
            + d
            + if self.tie_word_embeddings { 0 } else { v * d }
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
        c.rope_scaling = Some(serde_json::json!({"rope_type": "longrope", "factor": 4.0}));
        let s = c.validate(Path::new("c.json")).unwrap_err().to_string();
        assert!(
            s.contains("rope_scaling.rope_type") && s.contains("longrope"),
            "{s}"
        );
    }

    const QWEN3: &str = r#"{"model_type":"qwen3","architectures":["Qwen3ForCausalLM"],
        "vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":2,
        "num_attention_heads":2,"num_key_value_heads":1,"head_dim":6,"use_sliding_window":false,
        "sliding_window":null,"max_window_layers":28,"layer_types":["full_attention","full_attention"],
        "rope_parameters":{"rope_type":"default","rope_theta":1000000.0},"transformers_version":"5.24.0"}"#;

    fn with(text: &str, key: &str, v: Value) -> String {
        let mut m: Map<String, Value> = serde_json::from_str(text).unwrap();
        m.insert(key.into(), v);
        serde_json::to_string(&m).unwrap()
    }

    #[test]
    fn qwen3_v5_config_is_read() {
        let c = ModelConfig::from_json(QWEN3, Path::new("c.json")).unwrap();
        assert!(c.qk_norm());
        assert_eq!(c.head_dim(), 6);
        assert_eq!(c.rope().unwrap().theta, 1e6);
        assert_eq!(
            c.biases(),
            Biases {
                qkv: false,
                o: false,
                mlp: false
            }
        );
        // Saved configs carry both rope layouts and read back the same.
        let back = ModelConfig::from_json(&c.to_json("float32"), Path::new("c.json")).unwrap();
        assert_eq!(back.rope_theta, Some(1e6));
        assert_eq!(back.rope(), c.rope());
    }

    #[test]
    fn keys_that_change_the_maths_are_refused_by_name() {
        let p = Path::new("m/config.json");
        let err = |text: String| ModelConfig::from_json(&text, p).unwrap_err().to_string();
        let e = err(with(
            QWEN3,
            "quantization_config",
            serde_json::json!({"bits": 4}),
        ));
        assert!(
            e.contains("m/config.json") && e.contains("quantization_config"),
            "{e}"
        );
        // use_sliding_window applies only to the layers layer_types marks as sliding.
        let sliding = with(QWEN3, "use_sliding_window", Value::Bool(true));
        ModelConfig::from_json(&sliding, p).unwrap();
        let types = serde_json::json!(["full_attention", "sliding_attention"]);
        let e = err(with(&sliding, "layer_types", types));
        assert!(
            e.contains("use_sliding_window") && e.contains("layer 1"),
            "{e}"
        );
        let e = err(with(QWEN3, "attention_dropout", serde_json::json!(0.1)));
        assert!(e.contains("attention_dropout"), "{e}");
        let e = err(with(
            QWEN3,
            "architectures",
            serde_json::json!(["MistralForCausalLM"]),
        ));
        assert!(e.contains("architectures"), "{e}");
        let e = err(with(QWEN3, "rope_theta", serde_json::json!(1e4)));
        assert!(e.contains("rope_theta") && e.contains("disagrees"), "{e}");
        let e = err(with(
            QWEN3,
            "rope_parameters",
            serde_json::json!({"rope_type": "su"}),
        ));
        assert!(e.contains("rope_parameters.rope_type"), "{e}");
        // The same key at its neutral value, and inert keys, are fine.
        ModelConfig::from_json(&with(QWEN3, "attention_dropout", serde_json::json!(0.0)), p)
            .unwrap();
        ModelConfig::from_json(&with(QWEN3, "temperature", serde_json::json!(0.7)), p).unwrap();
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
