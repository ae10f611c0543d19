//! The policy's tokenizer: the word-level vocabulary the trainer builds for from-scratch
//! models, or a Hugging Face `tokenizer.json` (through turnwise-model) for a pretrained
//! checkpoint folder (`model.path`). Texts are encoded without special tokens: a context is
//! the concatenation of observation and action ids exactly as recorded (token-in/token-out),
//! so nothing is re-tokenized and no chat template shapes the masks.

use std::path::Path;

use anyhow::{Context, Result};

use super::WordTokenizer;

/// Either tokenizer, behind one interface.
pub enum PolicyTokenizer {
    /// The trainer's word-level vocabulary (`{"model": {"type": "turnwise-word"}}`).
    Word(WordTokenizer),
    /// A Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`).
    Hf(Box<turnwise_model::tokenizer::Tokenizer>),
}

impl PolicyTokenizer {
    /// Reads `dir/tokenizer.json`: the word vocabulary when its `model.type` is
    /// `turnwise-word`, a Hugging Face tokenizer otherwise; a GGUF file's tokenizer is rebuilt
    /// from its metadata.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        if turnwise_model::gguf::is_gguf(dir) {
            let hf = turnwise_model::tokenizer::Tokenizer::from_dir(dir)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            return Ok(PolicyTokenizer::Hf(Box::new(hf)));
        }
        let p = dir.join("tokenizer.json");
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        let t: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
        if t["model"]["type"] == "turnwise-word" {
            let pieces: Vec<String> = serde_json::from_value(t["model"]["pieces"].clone())
                .with_context(|| format!("{}: model.pieces", p.display()))?;
            let split = match &t["model"]["split"] {
                serde_json::Value::Null => super::tokenizer::Pieces::Letters,
                v => serde_json::from_value(v.clone()).with_context(|| {
                    format!("{}: model.split: `letters` or `words`", p.display())
                })?,
            };
            return Ok(PolicyTokenizer::Word(WordTokenizer::from_pieces(
                pieces, split,
            )));
        }
        let hf = turnwise_model::tokenizer::Tokenizer::from_dir(dir)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(PolicyTokenizer::Hf(Box::new(hf)))
    }

    /// Writes the tokenizer files into `dir` (each atomically).
    pub fn save(&self, dir: &Path) -> Result<()> {
        match self {
            PolicyTokenizer::Word(w) => {
                let mut tok =
                    serde_json::json!({"model": {"type": "turnwise-word", "pieces": w.pieces}});
                // `letters` files stay as they were; `words` is recorded.
                if w.split != super::tokenizer::Pieces::Letters {
                    tok["model"]["split"] = serde_json::to_value(w.split)?;
                }
                turnwise_core::jsonl::write_atomic(
                    &dir.join("tokenizer.json"),
                    tok.to_string().as_bytes(),
                )?;
            }
            PolicyTokenizer::Hf(t) => t.save_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?,
        }
        Ok(())
    }

    /// Number of ids the tokenizer can produce.
    pub fn vocab_size(&self) -> usize {
        match self {
            PolicyTokenizer::Word(w) => w.vocab_size(),
            PolicyTokenizer::Hf(t) => t.vocab_size(),
        }
    }

    /// Token ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            PolicyTokenizer::Word(w) => Ok(w.encode(text)),
            PolicyTokenizer::Hf(t) => t
                .encode_with(text, false)
                .map_err(|e| anyhow::anyhow!("encoding {text:?}: {e}")),
        }
    }

    /// Text of `ids` (special tokens such as end-of-sequence dropped).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        match self {
            PolicyTokenizer::Word(w) => Ok(w.decode(ids)),
            PolicyTokenizer::Hf(t) => t
                .decode_with(ids, true)
                .map_err(|e| anyhow::anyhow!("decoding {ids:?}: {e}")),
        }
    }

    /// The id of `piece` when it is a single token (the environment's stop string).
    pub fn id(&self, piece: &str) -> Option<u32> {
        match self {
            PolicyTokenizer::Word(w) => w.id(piece),
            PolicyTokenizer::Hf(t) => match t.encode_with(piece, false).ok()?.as_slice() {
                [id] => Some(*id),
                _ => None,
            },
        }
    }

    /// The id every context starts with: the word vocabulary's `<bos>`, or a Hugging Face
    /// tokenizer's beginning-of-sequence token when it has one (Qwen2's has none).
    pub fn bos(&self) -> Option<u32> {
        match self {
            PolicyTokenizer::Word(_) => Some(super::tokenizer::BOS),
            PolicyTokenizer::Hf(t) => t.special().bos,
        }
    }

    /// The chat-format view of a Hugging Face tokenizer (`env.format = "chat"`): an error
    /// for the word vocabulary or a tokenizer without a usable chat template.
    pub fn chat_turns(&self) -> Result<turnwise_model::tokenizer::ChatTurns<'_>> {
        match self {
            PolicyTokenizer::Word(_) => anyhow::bail!(
                "env.format = \"chat\" needs a pretrained model with a chat template (model.path); the word vocabulary has none"
            ),
            PolicyTokenizer::Hf(t) => t
                .chat_turns()
                .map_err(|e| anyhow::anyhow!("env.format = \"chat\": {e}")),
        }
    }

    /// The end-of-sequence id, which also ends an action (Hugging Face tokenizers only).
    pub fn eos(&self) -> Option<u32> {
        match self {
            PolicyTokenizer::Word(_) => None,
            PolicyTokenizer::Hf(t) => t.special().eos,
        }
    }
}

impl turnwise_model::Decode for PolicyTokenizer {
    fn decode(&self, ids: &[u32]) -> turnwise_model::Result<String> {
        PolicyTokenizer::decode(self, ids)
            .map_err(|e| turnwise_model::ModelError::Tokenizer(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::tokenizer::Pieces;

    #[test]
    fn the_split_survives_a_save_and_letters_files_keep_their_form() {
        let text = "Your position is at position 5, 8.\nmove left\n";
        for split in [Pieces::Letters, Pieces::Words] {
            let dir = tempfile::tempdir().unwrap();
            let tok = PolicyTokenizer::Word(WordTokenizer::build_with([text], split));
            tok.save(dir.path()).unwrap();
            let saved = std::fs::read_to_string(dir.path().join("tokenizer.json")).unwrap();
            assert_eq!(saved.contains("\"split\""), split == Pieces::Words);
            let PolicyTokenizer::Word(back) = PolicyTokenizer::from_dir(dir.path()).unwrap() else {
                panic!("a word tokenizer loads as one");
            };
            assert_eq!(back.split, split);
            let PolicyTokenizer::Word(orig) = &tok else {
                unreachable!()
            };
            assert_eq!(back.encode(text), orig.encode(text));
        }
    }

    #[test]
    fn an_unknown_split_is_an_error_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let json = r#"{"model": {"type": "turnwise-word", "pieces": ["<bos>", "<unk>"], "split": "bytes"}}"#;
        std::fs::write(dir.path().join("tokenizer.json"), json).unwrap();
        let err = format!("{:#}", PolicyTokenizer::from_dir(dir.path()).err().unwrap());
        assert!(err.contains("model.split"), "{err}");
    }
}
