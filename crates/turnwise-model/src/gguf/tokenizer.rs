//! The tokenizer of a GGUF file, rebuilt from its `tokenizer.*` metadata as a Hugging Face
//! `tokenizer.json` plus the `tokenizer_config.json` fields (special tokens, chat template).
//!
//! * `tokenizer.ggml.model = "gpt2"`: byte-level BPE from `tokens` and `merges`, with the
//!   pre-tokenizer llama.cpp selects by `tokenizer.ggml.pre` (`llama-vocab.cpp`): `gpt-2`,
//!   `smollm` (single digits, then GPT-2's regex), `llama-bpe` / `llama3` (Llama 3's regex), `qwen2`
//!   (Qwen2's regex, NFC). Tokens of type CONTROL (3) and USER_DEFINED (4) are added tokens
//!   matched before the model, CONTROL ones special.
//! * `tokenizer.ggml.model = "llama"` (SentencePiece BPE): `tokens` + `scores` with byte
//!   fallback, merges derived from the scores as `transformers`' GGUF converter derives them
//!   (every split of a piece into two vocabulary pieces, ordered by the piece's score), the
//!   `▁` normaliser (prefix space unless `tokenizer.ggml.add_space_prefix` is false).
//!
//! ASSUMPTION: we follow the file's declared pre-tokenizer (what llama.cpp runs).
//! `transformers`' own GGUF loader ignores `tokenizer.ggml.pre` for the `llama` architecture and
//! always applies GPT-2's regex; the two agree except on digits (`smollm` splits every digit,
//! `llama-bpe` groups them by three). docs/tokenizer.md lists this.

use super::file::{GgufFile, MetaValue};
use crate::error::{ModelError, Result};
use crate::tokenizer::{ModelTokenIds, Tokenizer, TokenizerConfig};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// `tokenizer.ggml.pre` values turnwise rebuilds.
pub const PRE_TOKENIZERS: &str = "gpt-2, smollm, llama-bpe, llama3, qwen2";

fn byte_level(use_regex: bool) -> Value {
    json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex})
}

fn split(regex: &str) -> Value {
    json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false})
}

/// (normalizer, pre_tokenizer, ignore_merges) of a `gpt2`-model file.
fn bpe_pre(file: &GgufFile) -> Result<(Value, Value, bool)> {
    let key = "tokenizer.ggml.pre";
    let pre = file.get(key).and_then(MetaValue::as_str).unwrap_or("gpt-2");
    let seq = |v: Vec<Value>| json!({"type": "Sequence", "pretokenizers": v});
    Ok(match pre {
        "gpt-2" | "gpt2" | "default" => (Value::Null, byte_level(true), false),
        "smollm" => (
            Value::Null,
            seq(vec![
                json!({"type": "Digits", "individual_digits": true}),
                byte_level(true),
            ]),
            false,
        ),
        "llama-bpe" | "llama3" | "llama-v3" => (
            Value::Null,
            seq(vec![split(LLAMA3_REGEX), byte_level(false)]),
            true,
        ),
        "qwen2" => (
            json!({"type": "NFC"}),
            seq(vec![split(QWEN2_REGEX), byte_level(false)]),
            false,
        ),
        other => {
            return Err(file.err(
                &format!("metadata key `{key}`"),
                format!("pre-tokenizer `{other}` is not supported ({PRE_TOKENIZERS})"),
            ))
        }
    })
}

fn strings<'a>(file: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    let bad = || {
        file.err(
            &format!("metadata key `{key}`"),
            "missing or not a list of strings",
        )
    };
    file.get(key)
        .and_then(MetaValue::as_array)
        .ok_or_else(bad)?
        .iter()
        .map(|v| v.as_str().ok_or_else(bad))
        .collect()
}

fn numbers(file: &GgufFile, key: &str, n: usize) -> Result<Option<Vec<f64>>> {
    let Some(v) = file.get(key) else {
        return Ok(None);
    };
    let bad = || {
        file.err(
            &format!("metadata key `{key}`"),
            format!("not a list of {n} numbers"),
        )
    };
    let a = v.as_array().ok_or_else(bad)?;
    if a.len() != n {
        return Err(bad());
    }
    a.iter()
        .map(|x| x.as_f64().ok_or_else(bad))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Merges of a SentencePiece vocabulary, derived from the scores exactly as
/// `transformers.integrations.ggml.GGUFTokenizerSkeleton` derives them.
fn spm_merges(tokens: &[&str], scores: &[f64]) -> Vec<String> {
    let score: HashMap<&str, f64> = tokens.iter().copied().zip(scores.iter().copied()).collect();
    let mut merges: Vec<(&str, &str, f64)> = vec![];
    let mut seen = std::collections::HashSet::new();
    for (piece, &piece_score) in tokens.iter().zip(scores) {
        if !seen.insert(*piece) {
            continue;
        }
        let mut local: Vec<(&str, &str, f64)> = piece
            .char_indices()
            .skip(1)
            .map(|(i, _)| (&piece[..i], &piece[i..]))
            .filter(|(l, r)| score.contains_key(l) && score.contains_key(r))
            .map(|(l, r)| (l, r, piece_score))
            .collect();
        // sorted(local, key=(vocab[l], vocab[r]), reverse=True): stable, descending.
        local.sort_by(|a, b| {
            score[b.0]
                .total_cmp(&score[a.0])
                .then(score[b.1].total_cmp(&score[a.1]))
        });
        merges.extend(local);
    }
    merges.sort_by(|a, b| b.2.total_cmp(&a.2));
    merges
        .into_iter()
        .map(|(l, r, _)| format!("{l} {r}"))
        .collect()
}

/// The tokenizer described by a GGUF file.
pub fn tokenizer(file: &GgufFile) -> Result<Tokenizer> {
    let model_key = "tokenizer.ggml.model";
    let model = file
        .get(model_key)
        .and_then(MetaValue::as_str)
        .ok_or_else(|| file.err(&format!("metadata key `{model_key}`"), "missing"))?;
    let tokens = strings(file, "tokenizer.ggml.tokens")?;
    let n = tokens.len();
    let types = numbers(file, "tokenizer.ggml.token_type", n)?;
    let id_of = |key: &str| -> Result<Option<u32>> {
        match file.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(id) if (id as usize) < n => Ok(Some(id as u32)),
                _ => Err(file.err(
                    &format!("metadata key `{key}`"),
                    format!("{v:?} is not a token id below {n}"),
                )),
            },
        }
    };
    let (bos, eos) = (
        id_of("tokenizer.ggml.bos_token_id")?,
        id_of("tokenizer.ggml.eos_token_id")?,
    );
    let (unk, pad) = (
        id_of("tokenizer.ggml.unknown_token_id")?,
        id_of("tokenizer.ggml.padding_token_id")?,
    );
    let vocab: Map<String, Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), json!(i)))
        .collect();
    let (normalizer, pre, decoder, bpe) = match model {
        "gpt2" => {
            let (normalizer, pre, ignore_merges) = bpe_pre(file)?;
            let merges = strings(file, "tokenizer.ggml.merges")?;
            let bpe = json!({"type": "BPE", "dropout": null, "unk_token": null,
                "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
                "byte_fallback": false, "ignore_merges": ignore_merges, "vocab": vocab,
                "merges": merges});
            let decoder = json!({"type": "ByteLevel", "add_prefix_space": true,
                "trim_offsets": true, "use_regex": true});
            (normalizer, pre, decoder, bpe)
        }
        "llama" => {
            let scores = numbers(file, "tokenizer.ggml.scores", n)?.ok_or_else(|| {
                file.err(
                    "metadata key `tokenizer.ggml.scores`",
                    "missing (needed by `llama`)",
                )
            })?;
            let prefix = file
                .get("tokenizer.ggml.add_space_prefix")
                .and_then(MetaValue::as_bool)
                .unwrap_or(true);
            let mut norm = vec![];
            if prefix {
                norm.push(json!({"type": "Prepend", "prepend": "▁"}));
            }
            norm.push(json!({"type": "Replace", "pattern": {"String": " "}, "content": "▁"}));
            let mut dec = vec![
                json!({"type": "ByteFallback"}),
                json!({"type": "Fuse"}),
                json!({"type": "Replace", "pattern": {"String": "▁"}, "content": " "}),
            ];
            if prefix {
                dec.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
            }
            let bpe = json!({"type": "BPE", "dropout": null,
                "unk_token": unk.map(|u| tokens[u as usize]),
                "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": true,
                "byte_fallback": true, "ignore_merges": false, "vocab": vocab,
                "merges": spm_merges(&tokens, &scores)});
            (
                json!({"type": "Sequence", "normalizers": norm}),
                Value::Null,
                json!({"type": "Sequence", "decoders": dec}),
                bpe,
            )
        }
        other => {
            return Err(file.err(
                &format!("metadata key `{model_key}`"),
                format!("tokenizer model `{other}` is not supported (gpt2, llama)"),
            ))
        }
    };
    // CONTROL (3) tokens are special; USER_DEFINED (4) are matched whole but not special.
    let added: Vec<Value> = (0..n)
        .filter_map(|i| {
            let ty = types.as_ref().map_or(0.0, |t| t[i]) as i64;
            let special = ty == 3 || (types.is_none() && [bos, eos, unk].contains(&Some(i as u32)));
            (special || ty == 4).then(|| {
                json!({"id": i, "content": tokens[i], "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": special})
            })
        })
        .collect();
    let add_bos = file
        .get("tokenizer.ggml.add_bos_token")
        .and_then(MetaValue::as_bool)
        .unwrap_or(model == "llama");
    let post = match (add_bos, bos) {
        (true, Some(b)) => {
            let t = tokens[b as usize];
            json!({"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": t, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": t, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": t, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {t: {"id": t, "ids": [b], "tokens": [t]}}})
        }
        _ => Value::Null,
    };
    let tj = json!({"version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": post,
        "decoder": decoder, "model": bpe});
    let inner: tokenizers::Tokenizer = tj
        .to_string()
        .parse()
        .map_err(|e| file.err("tokenizer.*", format!("cannot build the tokenizer: {e}")))?;
    let name = |id: Option<u32>| id.map(|i| tokens[i as usize].to_string());
    let chat_template = match file.get("tokenizer.chat_template") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .ok_or_else(|| file.err("metadata key `tokenizer.chat_template`", "not a string"))?
                .to_string(),
        ),
    };
    let config = TokenizerConfig {
        bos_token: name(bos),
        eos_token: name(eos),
        pad_token: name(pad),
        unk_token: name(unk),
        chat_template,
    };
    let ids = ModelTokenIds {
        bos,
        eos: eos.into_iter().collect(),
        pad,
    };
    Tokenizer::from_parts(inner, config, &ids, &file.path)
        .map_err(|e| ModelError::checkpoint(&file.path, e.to_string()))
}
