//! Incremental (streaming) decoding and stop strings, for sampling loops that must stop when
//! the generated text contains e.g. `"\nObservation:"`.
//!
//! Decoding one token on its own is wrong for byte-level BPE (a character can span tokens)
//! and for SentencePiece-style decoders (a leading space depends on the neighbour). The
//! [`IncrementalDecoder`] uses the prefix/read-offset scheme of Hugging Face
//! text-generation-inference: decode a short window that starts a few tokens back, emit only
//! the text beyond the window's already-emitted part, and hold text back while it ends in an
//! incomplete UTF-8 sequence (`U+FFFD`). The concatenated chunks equal `decode(all ids)`.

use super::error::{Result, TokenizerError};
use super::Tokenizer;

/// Streaming decoder state for one generated sequence.
#[derive(Debug, Clone, Default)]
pub struct IncrementalDecoder {
    ids: Vec<u32>,
    prefix: usize,
    read: usize,
    text: String,
    skip_special_tokens: bool,
}

impl IncrementalDecoder {
    /// An empty decoder; `skip_special_tokens` drops special tokens from the text.
    pub fn new(skip_special_tokens: bool) -> Self {
        Self {
            skip_special_tokens,
            ..Self::default()
        }
    }

    /// Appends one id and returns the text it completes (empty while a character is unfinished).
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> Result<&str> {
        self.ids.push(id);
        let start = self.text.len();
        self.advance(tok, false)?;
        Ok(&self.text[start..])
    }

    /// Emits whatever is held back (an unfinished character decodes lossily as `U+FFFD`).
    pub fn finish(&mut self, tok: &Tokenizer) -> Result<&str> {
        let start = self.text.len();
        self.advance(tok, true)?;
        Ok(&self.text[start..])
    }

    fn advance(&mut self, tok: &Tokenizer, force: bool) -> Result<()> {
        let skip = self.skip_special_tokens;
        let prefix_text = tok.decode_with(&self.ids[self.prefix..self.read], skip)?;
        let new_text = tok.decode_with(&self.ids[self.prefix..], skip)?;
        if new_text.len() > prefix_text.len() && (force || !new_text.ends_with('\u{FFFD}')) {
            let chunk = new_text.strip_prefix(&prefix_text).ok_or_else(|| {
                TokenizerError::Tokenizers(format!(
                    "incremental decoding: {new_text:?} does not extend {prefix_text:?}"
                ))
            })?;
            self.text.push_str(chunk);
            self.prefix = self.read;
            self.read = self.ids.len();
        }
        Ok(())
    }

    /// All text emitted so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// All ids pushed so far.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }
}

/// A set of stop strings, searched only where new text can complete one.
#[derive(Debug, Clone, Default)]
pub struct StopStrings {
    stops: Vec<String>,
    max_len: usize,
}

impl StopStrings {
    /// The stop strings (empty strings are ignored).
    pub fn new<S: Into<String>>(stops: impl IntoIterator<Item = S>) -> Self {
        let stops: Vec<String> = stops
            .into_iter()
            .map(Into::into)
            .filter(|s: &String| !s.is_empty())
            .collect();
        let max_len = stops.iter().map(String::len).max().unwrap_or(0);
        Self { stops, max_len }
    }

    /// Whether there are no stop strings.
    pub fn is_empty(&self) -> bool {
        self.stops.is_empty()
    }

    /// The byte offset in `text` where the leftmost stop string begins. Only the tail that a
    /// match ending after `new_from` (the length of `text` before the last chunk) can touch is
    /// searched, so calling this after every chunk costs O(chunk + longest stop string).
    pub fn find(&self, text: &str, new_from: usize) -> Option<usize> {
        if self.stops.is_empty() {
            return None;
        }
        let mut lo = new_from
            .min(text.len())
            .saturating_sub(self.max_len.saturating_sub(1));
        while !text.is_char_boundary(lo) {
            lo -= 1;
        }
        let window = &text[lo..];
        self.stops
            .iter()
            .filter_map(|s| window.find(s.as_str()))
            .min()
            .map(|p| lo + p)
    }
}
