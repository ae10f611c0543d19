//! Tokenizers: Hugging Face `tokenizer.json` through the `tokenizers` crate, the special tokens
//! of a model folder, chat templates rendered with minijinja, incremental decoding for
//! stop strings, and byte-level BPE training for from-scratch models.
//!
//! Layout of a tokenizer folder (the Hugging Face convention): `tokenizer.json` (required),
//! `tokenizer_config.json` (special tokens, `chat_template`), optionally `config.json` and
//! `generation_config.json` (`bos_token_id` / `eos_token_id` / `pad_token_id`).

mod chat;
mod config;
mod error;
mod pyjson;
mod special;
mod stream;
mod train;
mod turns;

use std::path::Path;

pub use chat::{ChatTemplate, Message};
pub use config::{ModelTokenIds, TokenizerConfig};
pub use error::{Result, TokenizerError};
pub use special::SpecialTokens;
pub use stream::{IncrementalDecoder, StopStrings};
pub use train::{PreTokenizerKind, TrainOptions, CHATML_TEMPLATE};
pub use turns::{ChatPiece, ChatTurns};

use error::{io, tk};

/// A loaded tokenizer: the `tokenizers` model plus special tokens and chat template.
/// `Send + Sync`: one instance serves all sampling threads.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    special: SpecialTokens,
    chat: Option<ChatTemplate>,
    config: TokenizerConfig,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("special", &self.special)
            .field("chat_template", &self.chat.is_some())
            .finish()
    }
}

impl Tokenizer {
    /// Loads a tokenizer folder: `tokenizer.json` plus, where present, `tokenizer_config.json`,
    /// `config.json` and `generation_config.json`.
    /// A GGUF file is accepted too: its tokenizer and chat template are rebuilt from the
    /// `tokenizer.*` metadata.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if crate::gguf::is_gguf(dir) {
            return crate::gguf::GgufFile::open(dir)
                .and_then(|f| crate::gguf::tokenizer::tokenizer(&f))
                .map_err(|e| TokenizerError::Parse {
                    path: dir.to_path_buf(),
                    message: match e {
                        crate::error::ModelError::Checkpoint { message, .. } => message,
                        other => other.to_string(),
                    },
                });
        }
        let inner = load_tokenizer_json(&dir.join("tokenizer.json"))?;
        let cfg_path = dir.join("tokenizer_config.json");
        let config = if cfg_path.is_file() {
            TokenizerConfig::from_file(&cfg_path)?
        } else {
            TokenizerConfig::default()
        };
        let ids = ModelTokenIds::from_dir(dir)?;
        Self::from_parts(inner, config, &ids, &cfg_path)
    }

    /// Builds a tokenizer from its parts; `config_path` names the config in error messages.
    pub fn from_parts(
        inner: tokenizers::Tokenizer,
        config: TokenizerConfig,
        ids: &ModelTokenIds,
        config_path: &Path,
    ) -> Result<Self> {
        let special = SpecialTokens::resolve(&inner, &config, ids, config_path)?;
        let chat = match &config.chat_template {
            Some(src) => Some(ChatTemplate::new(
                src,
                special.bos_token.clone(),
                special.eos_token.clone(),
            )?),
            None => None,
        };
        Ok(Self {
            inner,
            special,
            chat,
            config,
        })
    }

    /// Encodes text to ids without adding the post-processor's special tokens (no BOS):
    /// special tokens written in the text (e.g. `<|im_end|>` from a chat template) are still
    /// recognised as single ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.encode_with(text, false)
    }

    /// Encodes text; `add_special_tokens` runs the post-processor (e.g. prepends BOS).
    pub fn encode_with(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode_fast(text, add_special_tokens)
            .map_err(tk)?
            .get_ids()
            .to_vec())
    }

    /// Encodes many texts in parallel (without added special tokens).
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let enc = self
            .inner
            .encode_batch_fast(texts.to_vec(), false)
            .map_err(tk)?;
        Ok(enc.into_iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Decodes ids to text, keeping special tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.decode_with(ids, false)
    }

    /// Decodes ids to text; `skip_special_tokens` drops special tokens.
    pub fn decode_with(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner.decode(ids, skip_special_tokens).map_err(tk)
    }

    /// A fresh incremental decoder for one generated sequence (see [`IncrementalDecoder`]).
    pub fn incremental_decoder(&self, skip_special_tokens: bool) -> IncrementalDecoder {
        IncrementalDecoder::new(skip_special_tokens)
    }

    /// Vocabulary size including added (special) tokens: one more than the largest id.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token (vocabulary entry or added token).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The token (vocabulary string, byte-level encoded for byte-level BPE) of an id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The special tokens (bos/eos/pad/unk and the ids that stop generation).
    pub fn special(&self) -> &SpecialTokens {
        &self.special
    }

    /// The chat template, if the folder has one.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.chat.as_ref()
    }

    /// Renders messages with the chat template (an error if there is none).
    pub fn apply_chat_template(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String> {
        self.chat
            .as_ref()
            .ok_or_else(|| TokenizerError::Template("this tokenizer has no chat_template".into()))?
            .render(messages, add_generation_prompt)
    }

    /// The parsed `tokenizer_config.json`.
    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (created if missing),
    /// each file atomically.
    pub fn save_dir(&self, dir: impl AsRef<Path>) -> Result<()> {
        train::save_dir(&self.inner, &self.config, dir.as_ref())
    }
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Tokenizer>()
};

/// Loads `tokenizer.json`, naming the file (and JSON line/column) on error.
fn load_tokenizer_json(path: &Path) -> Result<tokenizers::Tokenizer> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    text.parse::<tokenizers::Tokenizer>()
        .map_err(|e| TokenizerError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}
