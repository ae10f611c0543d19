//! A GGUF file as a Hugging Face checkpoint: the `{arch}.*` metadata as a [`ModelConfig`]
//! (architectures `llama`, `qwen2`, `qwen3`), and the tensors under their Hugging Face names,
//! with llama.cpp's row permutation of the Llama q/k projections undone.
//!
//! llama.cpp's converter (`convert_hf_to_gguf.py`, `LlamaModel.permute`) reorders the rows of
//! every Llama-family q/k projection from the rotate-half layout to interleaved pairs:
//! `w.reshape(H, 2, d/2, …).swapaxes(1, 2)`. Qwen2/Qwen3 use the rotate-half ("NEOX") rotation
//! in llama.cpp and are stored unpermuted. Metadata or tensors that would change the model and
//! that turnwise does not implement are errors naming the file and the key.

use super::dequant::read_tensor;
use super::file::GgufFile;
use crate::config::ModelConfig;
use crate::error::Result;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use tch::Tensor;

/// Architectures read from GGUF files.
pub const ARCHITECTURES: [&str; 3] = ["llama", "qwen2", "qwen3"];

/// `{arch}.` keys that map onto `config.json` fields (read in [`config`]).
const READ: &[&str] = &[
    "context_length",
    "block_count",
    "feed_forward_length",
    "embedding_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.layer_norm_rms_epsilon",
    "attention.key_length",
    "attention.value_length",
    "rope.freq_base",
    "rope.dimension_count",
    "rope.scaling.type",
    "rope.scaling.factor",
    "rope.scaling.original_context_length",
    "rope.scaling.finetuned",
    "vocab_size",
];

/// The architecture of a GGUF file (`general.architecture`), checked.
pub fn architecture(file: &GgufFile) -> Result<String> {
    let key = "general.architecture";
    let arch = file
        .get(key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| file.err(&format!("metadata key `{key}`"), "missing or not a string"))?;
    if !ARCHITECTURES.contains(&arch) {
        return Err(file.err(
            &format!("metadata key `{key}`"),
            format!(
                "architecture `{arch}` is not supported ({})",
                ARCHITECTURES.join(", ")
            ),
        ));
    }
    Ok(arch.to_string())
}

/// The model configuration described by a GGUF file's metadata, in `config.json` form.
pub fn config(file: &GgufFile) -> Result<ModelConfig> {
    let arch = architecture(file)?;
    let key = |k: &str| format!("{arch}.{k}");
    let err = |k: &str, m: &str| file.err(&format!("metadata key `{k}`"), m);
    for (k, v) in &file.metadata {
        if let Some(rest) = k.strip_prefix(&format!("{arch}.")) {
            if !READ.contains(&rest) {
                return Err(err(
                    k,
                    "not supported by turnwise (it would change the model)",
                ));
            }
        } else if k == "split.count" && v.as_u64() != Some(1) {
            return Err(err(
                k,
                "split GGUF files are not supported; merge them first",
            ));
        }
    }
    let int = |k: &str| -> Result<Option<u64>> {
        match file.get(&key(k)) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| err(&key(k), "not a non-negative integer")),
        }
    };
    let need = |k: &str| int(k)?.ok_or_else(|| err(&key(k), "missing"));
    let float = |k: &str| -> Result<Option<f64>> {
        match file.get(&key(k)) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| err(&key(k), "not a number")),
        }
    };
    let hidden = need("embedding_length")?;
    let heads = need("attention.head_count")?;
    let kv_heads = int("attention.head_count_kv")?.unwrap_or(heads);
    let head_dim = match (int("attention.key_length")?, int("attention.value_length")?) {
        (Some(k), Some(v)) if k != v => {
            return Err(err(
                &key("attention.value_length"),
                "differs from attention.key_length",
            ))
        }
        (Some(k), _) => k,
        (None, _) => int("rope.dimension_count")?.unwrap_or(hidden / heads.max(1)),
    };
    if let Some(r) = int("rope.dimension_count")? {
        if r != head_dim {
            return Err(err(
                &key("rope.dimension_count"),
                &format!("{r} rotary dimensions of {head_dim} (partial rotary) are not supported"),
            ));
        }
    }
    let vocab = match int("vocab_size")? {
        Some(v) => v,
        None => match file.get("tokenizer.ggml.tokens").and_then(|t| t.as_array()) {
            Some(t) => t.len() as u64,
            None => file
                .tensors
                .iter()
                .find(|t| t.name == "token_embd.weight")
                .map(|t| t.dims.get(1).copied().unwrap_or(0))
                .ok_or_else(|| err(&key("vocab_size"), "missing (and no tokenizer.ggml.tokens)"))?,
        },
    };
    let has = |n: &str| file.tensors.iter().any(|t| t.name == n);
    let max_pos = need("context_length")?;
    let mut rope = Map::new();
    rope.insert(
        "rope_theta".into(),
        json!(float("rope.freq_base")?.unwrap_or(10_000.0)),
    );
    let scaling = file.get(&key("rope.scaling.type")).map(|v| v.as_str());
    match scaling {
        None | Some(Some("none")) => {
            rope.insert("rope_type".into(), json!("default"));
        }
        Some(Some(ty @ ("linear" | "yarn"))) => {
            rope.insert("rope_type".into(), json!(ty));
            let factor = float("rope.scaling.factor")?
                .ok_or_else(|| err(&key("rope.scaling.factor"), "missing"))?;
            rope.insert("factor".into(), json!(factor));
            if ty == "yarn" {
                let orig = int("rope.scaling.original_context_length")?.unwrap_or(max_pos);
                rope.insert("original_max_position_embeddings".into(), json!(orig));
            }
        }
        Some(other) => {
            return Err(err(
                &key("rope.scaling.type"),
                &format!("{other:?} is not supported (none, linear, yarn)"),
            ))
        }
    }
    let token_id = |k: &str| file.get(k).and_then(|v| v.as_u64()).map(Value::from);
    let mut cfg = json!({
        "model_type": arch,
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": need("feed_forward_length")?,
        "num_hidden_layers": need("block_count")?,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": max_pos,
        "rms_norm_eps": float("attention.layer_norm_rms_epsilon")?
            .ok_or_else(|| err(&key("attention.layer_norm_rms_epsilon"), "missing"))?,
        "rope_parameters": Value::Object(rope),
        "tie_word_embeddings": !has("output.weight"),
        "bos_token_id": token_id("tokenizer.ggml.bos_token_id"),
        "eos_token_id": token_id("tokenizer.ggml.eos_token_id"),
    });
    if arch != "qwen2" {
        cfg["attention_bias"] = json!(has("blk.0.attn_q.bias"));
    }
    let text = serde_json::to_string(&cfg).expect("json");
    ModelConfig::from_json(&text, &file.path)
}

/// The Hugging Face name of a llama.cpp tensor name, if it is one turnwise reads.
fn hf_name(name: &str) -> Option<String> {
    Some(match name {
        "token_embd.weight" => "model.embed_tokens.weight".into(),
        "output_norm.weight" => "model.norm.weight".into(),
        "output.weight" => "lm_head.weight".into(),
        _ => {
            let rest = name.strip_prefix("blk.")?;
            let (layer, part) = rest.split_once('.')?;
            layer.parse::<usize>().ok()?;
            let (base, suffix) = part.rsplit_once('.')?;
            let hf = match base {
                "attn_norm" => "input_layernorm",
                "ffn_norm" => "post_attention_layernorm",
                "attn_q" => "self_attn.q_proj",
                "attn_k" => "self_attn.k_proj",
                "attn_v" => "self_attn.v_proj",
                "attn_output" => "self_attn.o_proj",
                "attn_q_norm" => "self_attn.q_norm",
                "attn_k_norm" => "self_attn.k_norm",
                "ffn_gate" => "mlp.gate_proj",
                "ffn_up" => "mlp.up_proj",
                "ffn_down" => "mlp.down_proj",
                _ => return None,
            };
            format!("model.layers.{layer}.{hf}.{suffix}")
        }
    })
}

/// Undoes llama.cpp's q/k row permutation: rows grouped as (head, d/2, 2) go back to
/// (head, 2, d/2), i.e. `w.reshape(H, d/2, 2, …).swapaxes(1, 2).reshape(w.shape)`.
fn unpermute(file: &GgufFile, name: &str, t: &Tensor, heads: i64) -> Result<Tensor> {
    let shape = t.size();
    let rows = shape[0];
    if heads == 0 || rows % (2 * heads) != 0 {
        return Err(file.err(
            &format!("tensor `{name}`"),
            format!("{rows} rows do not split into {heads} heads of even width"),
        ));
    }
    let mut view = vec![heads, rows / heads / 2, 2];
    view.extend_from_slice(&shape[1..]);
    Ok(t.f_reshape(&view)?
        .f_transpose(1, 2)?
        .f_contiguous()?
        .f_reshape(&shape)?)
}

/// Every tensor of the file under its Hugging Face name (CPU; f32 for quantised types).
pub fn tensors(file: &GgufFile, cfg: &ModelConfig) -> Result<HashMap<String, Tensor>> {
    let mut out = HashMap::with_capacity(file.tensors.len());
    for t in &file.tensors {
        let what = format!("tensor `{}`", t.name);
        let Some(name) = hf_name(&t.name) else {
            let why = if t.name == "rope_freqs.weight" {
                "per-frequency RoPE factors (Llama 3.1 scaling in GGUF form) are not supported"
            } else {
                "not a tensor of the llama / qwen2 / qwen3 layout"
            };
            return Err(file.err(&what, why));
        };
        let mut x = read_tensor(file, t)?;
        if cfg.model_type == "llama" {
            if name.ends_with("q_proj.weight") || name.ends_with("q_proj.bias") {
                x = unpermute(file, &t.name, &x, cfg.num_attention_heads as i64)?;
            } else if name.ends_with("k_proj.weight") || name.ends_with("k_proj.bias") {
                x = unpermute(file, &t.name, &x, cfg.num_kv_heads() as i64)?;
            }
        }
        out.insert(name, x);
    }
    Ok(out)
}
