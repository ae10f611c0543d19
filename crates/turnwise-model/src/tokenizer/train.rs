//! Byte-level BPE training (Sennrich et al. 2016, "Neural Machine Translation of Rare Words
//! with Subword Units"; byte-level variant of GPT-2, Radford et al. 2019) with the
//! `tokenizers` crate trainer, for from-scratch policies on environment text.
//!
//! The vocabulary is: the special tokens (ids `0..k`), the 256 byte symbols (so every string
//! encodes, nothing is unknown), then merges in order of corpus frequency. With a small
//! vocabulary this is the "characters plus frequent words" vocabulary a tiny model on e.g. the
//! LMRL maze needs: `vocab = 256 + specials + ~100` learns `position`, ` wall`, ` move`, … as
//! single tokens while digits stay single characters. Training is deterministic: the trainer
//! sorts the alphabet and breaks frequency ties by pair id, so the same corpus and options
//! give the same `tokenizer.json` byte for byte.
//!
//! No normalizer is used, so `decode(encode(s)) == s` for every string (NFC would rewrite
//! decomposed accents).

use std::path::Path;
use std::str::FromStr;

use serde_json::json;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BpeTrainer, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior};

use super::config::{ModelTokenIds, TokenizerConfig};
use super::error::{io, tk, Result, TokenizerError};
use super::Tokenizer;

/// The ChatML chat template written for trained tokenizers (the Qwen2 format without a
/// default system prompt): `<|im_start|>{role}\n{content}<|im_end|>\n` per message.
pub const CHATML_TEMPLATE: &str = "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/// The Qwen2 pre-tokenization regex (`tokenizer.json` of Qwen2/Qwen2.5): contractions,
/// letter runs with one leading non-letter, single digits, punctuation runs, newlines, spaces.
pub const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// How text is split into words before BPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreTokenizerKind {
    /// Qwen2: `Split(QWEN2_PATTERN, Isolated)` then `ByteLevel(use_regex=false)`; single digits.
    #[default]
    Qwen2,
    /// GPT-2: `ByteLevel(use_regex=true)` (its own regex; digit runs stay together).
    ByteLevel,
}

impl PreTokenizerKind {
    /// All kinds with their CLI names.
    pub const ALL: [(&'static str, PreTokenizerKind); 2] =
        [("qwen2", Self::Qwen2), ("byte-level", Self::ByteLevel)];

    fn build(self) -> Result<PreTokenizerWrapper> {
        Ok(match self {
            Self::Qwen2 => {
                let split = Split::new(
                    SplitPattern::Regex(QWEN2_PATTERN.into()),
                    SplitDelimiterBehavior::Isolated,
                    false,
                )
                .map_err(tk)?;
                Sequence::new(vec![
                    split.into(),
                    ByteLevel::new(false, false, false).into(),
                ])
                .into()
            }
            Self::ByteLevel => ByteLevel::new(false, false, true).into(),
        })
    }
}

impl FromStr for PreTokenizerKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown pre-tokenizer {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Options of [`Tokenizer::train_from_texts`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Target vocabulary size, special tokens included (training stops earlier when no pair
    /// occurs `min_frequency` times).
    pub vocab_size: usize,
    /// Special tokens, ids `0..k` in this order.
    pub special_tokens: Vec<String>,
    /// Pre-tokenizer.
    pub pre_tokenizer: PreTokenizerKind,
    /// Minimum pair count for a merge.
    pub min_frequency: u64,
}

/// Default special tokens: ChatML turn markers and the end-of-text/padding token.
pub const DEFAULT_SPECIALS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

impl TrainOptions {
    /// `vocab_size` with the ChatML specials, the Qwen2 pre-tokenizer and `min_frequency` 2.
    pub fn new(vocab_size: usize) -> Self {
        Self {
            vocab_size,
            special_tokens: DEFAULT_SPECIALS.iter().map(|s| s.to_string()).collect(),
            pre_tokenizer: PreTokenizerKind::Qwen2,
            min_frequency: 2,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TokenizerError::Train(m));
        for (i, s) in self.special_tokens.iter().enumerate() {
            if s.is_empty() {
                return bad(format!("special token {i} is empty"));
            }
            if self.special_tokens[..i].contains(s) {
                return bad(format!("special token {s:?} is given twice"));
            }
        }
        let min = 256 + self.special_tokens.len();
        if self.vocab_size < min {
            return bad(format!(
                "vocab size {} is below 256 byte tokens + {} special tokens = {min}",
                self.vocab_size,
                self.special_tokens.len()
            ));
        }
        Ok(())
    }

    /// The `tokenizer_config.json` of a tokenizer trained with these options: eos
    /// `<|im_end|>` (else the first special), pad `<|endoftext|>` (else eos), no bos, and the
    /// ChatML template when both turn markers are special tokens.
    pub fn config(&self) -> TokenizerConfig {
        let has = |t: &str| self.special_tokens.iter().any(|s| s == t);
        let eos = if has("<|im_end|>") {
            Some("<|im_end|>".to_string())
        } else {
            self.special_tokens.first().cloned()
        };
        let pad = if has("<|endoftext|>") {
            Some("<|endoftext|>".to_string())
        } else {
            eos.clone()
        };
        TokenizerConfig {
            bos_token: None,
            eos_token: eos,
            pad_token: pad,
            unk_token: None,
            chat_template: (has("<|im_start|>") && has("<|im_end|>"))
                .then(|| CHATML_TEMPLATE.to_string()),
        }
    }
}

impl Tokenizer {
    /// Trains a byte-level BPE tokenizer on `texts` (each text one training sequence).
    pub fn train_from_texts<S: AsRef<str> + Sync>(
        texts: &[S],
        opts: &TrainOptions,
    ) -> Result<Self> {
        opts.validate()?;
        if texts.iter().all(|t| t.as_ref().is_empty()) {
            return Err(TokenizerError::Train("the corpus is empty".into()));
        }
        let mut tok = tokenizers::Tokenizer::new(BPE::default());
        tok.with_pre_tokenizer(Some(opts.pre_tokenizer.build()?));
        tok.with_decoder(Some(ByteLevelDecoder::default()));
        tok.with_post_processor(Some(ByteLevel::new(false, false, false)));
        let specials = opts
            .special_tokens
            .iter()
            .map(|s| AddedToken::from(s.clone(), true))
            .collect();
        let mut trainer: TrainerWrapper = BpeTrainer::builder()
            .vocab_size(opts.vocab_size)
            .min_frequency(opts.min_frequency)
            .special_tokens(specials)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .show_progress(false)
            .build()
            .into();
        tok.train(&mut trainer, texts.iter().map(|t| t.as_ref()))
            .map_err(tk)?;
        Self::from_parts(
            tok,
            opts.config(),
            &ModelTokenIds::default(),
            Path::new("<trained>"),
        )
    }

    /// Trains on a UTF-8 text file, one training sequence per line (newlines kept).
    pub fn train_from_file(path: &Path, opts: &TrainOptions) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let ok = e.utf8_error().valid_up_to();
            let line = 1 + e.as_bytes()[..ok].iter().filter(|&&b| b == b'\n').count();
            TokenizerError::Parse {
                path: path.to_path_buf(),
                message: format!("line {line}: invalid UTF-8"),
            }
        })?;
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        Self::train_from_texts(&lines, opts).map_err(|e| match e {
            TokenizerError::Train(m) => TokenizerError::Train(format!("{}: {m}", path.display())),
            e => e,
        })
    }
}

/// Writes `tokenizer.json` and `tokenizer_config.json` (the fields turnwise reads, plus
/// `tokenizer_class` so `transformers.AutoTokenizer` loads the folder) into `dir`.
pub(crate) fn save_dir(
    tok: &tokenizers::Tokenizer,
    cfg: &TokenizerConfig,
    dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tj = tok.to_string(true).map_err(tk)?;
    let cj = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": cfg.bos_token,
        "eos_token": cfg.eos_token,
        "pad_token": cfg.pad_token,
        "unk_token": cfg.unk_token,
        "chat_template": cfg.chat_template,
        "add_bos_token": false,
        "clean_up_tokenization_spaces": false,
    });
    let cj = serde_json::to_string_pretty(&cj).expect("a JSON value always serialises");
    for (name, body) in [("tokenizer.json", tj), ("tokenizer_config.json", cj)] {
        let path = dir.join(name);
        turnwise_core::jsonl::write_atomic(&path, body.as_bytes()).map_err(|e| {
            TokenizerError::Parse {
                path: path.clone(),
                message: e.to_string(),
            }
        })?;
    }
    Ok(())
}
