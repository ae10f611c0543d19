//! Special tokens of a model: bos/eos/pad/unk as text and id, and the ids that end generation.
//!
//! Resolution order (the `transformers` behaviour): the token texts of `tokenizer_config.json`
//! win; a token missing there is taken by id from `config.json` / `generation_config.json`.
//! Generation stops at `eos` and at every `eos_token_id` of the two model configs (Llama 3
//! Instruct lists both `<|end_of_text|>` and `<|eot_id|>`).

use std::path::Path;

use super::config::{ModelTokenIds, TokenizerConfig};
use super::error::{Result, TokenizerError};

/// The resolved special tokens.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecialTokens {
    /// Beginning-of-sequence text (`bos_token` of chat templates).
    pub bos_token: Option<String>,
    /// Beginning-of-sequence id.
    pub bos: Option<u32>,
    /// End-of-sequence text (`eos_token` of chat templates).
    pub eos_token: Option<String>,
    /// End-of-sequence id.
    pub eos: Option<u32>,
    /// Padding id.
    pub pad: Option<u32>,
    /// Unknown-token id.
    pub unk: Option<u32>,
    /// Ids that end a generated sequence: `eos` first, then the model configs' `eos_token_id`s.
    pub stop_ids: Vec<u32>,
}

/// Text and id of one token, from its text if given, else from its id.
fn one(
    tok: &tokenizers::Tokenizer,
    text: &Option<String>,
    id: Option<u32>,
    path: &Path,
    field: &str,
) -> Result<(Option<String>, Option<u32>)> {
    if let Some(t) = text {
        let id = tok.token_to_id(t).ok_or_else(|| TokenizerError::Field {
            path: path.to_path_buf(),
            field: field.to_string(),
            message: format!("token {t:?} is not in the vocabulary of tokenizer.json"),
        })?;
        return Ok((Some(t.clone()), Some(id)));
    }
    Ok((id.and_then(|i| tok.id_to_token(i)), id))
}

impl SpecialTokens {
    /// Resolves the special tokens against the vocabulary; `path` names `tokenizer_config.json`.
    pub fn resolve(
        tok: &tokenizers::Tokenizer,
        cfg: &TokenizerConfig,
        ids: &ModelTokenIds,
        path: &Path,
    ) -> Result<Self> {
        let (bos_token, bos) = one(tok, &cfg.bos_token, ids.bos, path, "bos_token")?;
        let (eos_token, eos) = one(
            tok,
            &cfg.eos_token,
            ids.eos.first().copied(),
            path,
            "eos_token",
        )?;
        let (_, pad) = one(tok, &cfg.pad_token, ids.pad, path, "pad_token")?;
        let (_, unk) = one(tok, &cfg.unk_token, None, path, "unk_token")?;
        let mut stop_ids: Vec<u32> = eos.into_iter().collect();
        for &e in &ids.eos {
            if !stop_ids.contains(&e) {
                stop_ids.push(e);
            }
        }
        Ok(Self {
            bos_token,
            bos,
            eos_token,
            eos,
            pad,
            unk,
            stop_ids,
        })
    }
}
