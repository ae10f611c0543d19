//! `tokenizer_config.json`, `config.json` and `generation_config.json`: the special tokens
//! (bos/eos/pad/unk) and the chat template of a Hugging Face model folder.
//!
//! Format: the `transformers` conventions (`PreTrainedTokenizerBase`): a token is a string,
//! an `AddedToken` object `{"content": …}` or null; `chat_template` is a string or a list of
//! `{"name", "template"}` (the one named `default` is used); `eos_token_id` is an integer or a
//! list of integers.

use std::path::Path;

use serde_json::Value;

use super::error::{io, Result, TokenizerError};

/// The fields of `tokenizer_config.json` that turnwise uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenizerConfig {
    /// Beginning-of-sequence token text.
    pub bos_token: Option<String>,
    /// End-of-sequence token text.
    pub eos_token: Option<String>,
    /// Padding token text.
    pub pad_token: Option<String>,
    /// Unknown-token text.
    pub unk_token: Option<String>,
    /// The Jinja chat template.
    pub chat_template: Option<String>,
}

/// Token ids from `config.json` / `generation_config.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelTokenIds {
    /// `bos_token_id`.
    pub bos: Option<u32>,
    /// `eos_token_id` (all of them, in file order; `config.json` before `generation_config.json`).
    pub eos: Vec<u32>,
    /// `pad_token_id`.
    pub pad: Option<u32>,
}

/// Reads and parses a JSON file, naming line and column on error.
pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|e| TokenizerError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn field_err(path: &Path, field: &str, message: impl Into<String>) -> TokenizerError {
    TokenizerError::Field {
        path: path.to_path_buf(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// A token given as a string, an `AddedToken` object or null.
fn token_field(obj: &Value, path: &Path, field: &str) -> Result<Option<String>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Object(m)) => match m.get("content") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            _ => Err(field_err(path, field, "object without a string `content`")),
        },
        Some(other) => Err(field_err(
            path,
            field,
            format!("expected a string, an object with `content` or null, found {other}"),
        )),
    }
}

impl TokenizerConfig {
    /// Parses `tokenizer_config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_value(&read_json(path)?, path)
    }

    /// Parses an already-read `tokenizer_config.json`; `path` is used in error messages.
    pub fn from_value(v: &Value, path: &Path) -> Result<Self> {
        if !v.is_object() {
            return Err(field_err(path, ".", "expected a JSON object"));
        }
        let chat_template = match v.get("chat_template") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(list)) => Some(named_template(list, path)?),
            Some(other) => {
                return Err(field_err(
                    path,
                    "chat_template",
                    format!("expected a string or a list of {{name, template}}, found {other}"),
                ))
            }
        };
        Ok(Self {
            bos_token: token_field(v, path, "bos_token")?,
            eos_token: token_field(v, path, "eos_token")?,
            pad_token: token_field(v, path, "pad_token")?,
            unk_token: token_field(v, path, "unk_token")?,
            chat_template,
        })
    }
}

/// Picks the template named `default` (else the first) from a list of named templates.
fn named_template(list: &[Value], path: &Path) -> Result<String> {
    let mut first = None;
    for (i, t) in list.iter().enumerate() {
        let field = format!("chat_template[{i}].template");
        let tpl = t
            .get("template")
            .and_then(Value::as_str)
            .ok_or_else(|| field_err(path, &field, "missing or not a string"))?;
        if t.get("name").and_then(Value::as_str) == Some("default") {
            return Ok(tpl.to_string());
        }
        first.get_or_insert_with(|| tpl.to_string());
    }
    first.ok_or_else(|| field_err(path, "chat_template", "empty list"))
}

fn id_field(v: &Value, path: &Path, field: &str) -> Result<Vec<u32>> {
    let one = |x: &Value, f: &str| -> Result<u32> {
        x.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                field_err(
                    path,
                    f,
                    format!("expected a token id (non-negative integer), found {x}"),
                )
            })
    };
    match v.get(field) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, x)| one(x, &format!("{field}[{i}]")))
            .collect(),
        Some(x) => Ok(vec![one(x, field)?]),
    }
}

impl ModelTokenIds {
    /// Reads `config.json` and `generation_config.json` from `dir` where they exist.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let mut ids = Self::default();
        for name in ["config.json", "generation_config.json"] {
            let path = dir.join(name);
            if !path.is_file() {
                continue;
            }
            let v = read_json(&path)?;
            if let Some(&b) = id_field(&v, &path, "bos_token_id")?.first() {
                ids.bos.get_or_insert(b);
            }
            if let Some(&p) = id_field(&v, &path, "pad_token_id")?.first() {
                ids.pad.get_or_insert(p);
            }
            for e in id_field(&v, &path, "eos_token_id")? {
                if !ids.eos.contains(&e) {
                    ids.eos.push(e);
                }
            }
        }
        Ok(ids)
    }
}
