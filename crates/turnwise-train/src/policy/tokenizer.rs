//! A word-level tokenizer for small from-scratch policies: pieces are runs of letters
//! (with their leading space), single digits, and single other characters; the vocabulary
//! is built from the environment's texts, with a per-character fallback so that any text
//! encodes. Decoding concatenates pieces, so `decode(encode(s)) == s` for every `s` whose
//! characters are known. The trainer appends token ids to contexts and never re-tokenises
//! text it has already encoded (token-in / token-out, `anchors.md`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Id of the padding / beginning-of-sequence token.
pub const BOS: u32 = 0;
/// Id of the unknown-character token.
pub const UNK: u32 = 1;

/// The vocabulary: piece strings by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordTokenizer {
    /// Pieces by id; ids 0 and 1 are `<bos>` and `<unk>`.
    pub pieces: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

/// Splits `text` into pieces: `[ ]?[A-Za-z]+`, single digits, single other characters.
pub fn split(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let start = i;
        let ch = text[i..].chars().next().expect("in bounds");
        let letters = |j: usize| {
            text[j..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
        };
        if ch == ' ' && i + 1 < b.len() && letters(i + 1) {
            i += 1;
        }
        if letters(i) {
            while i < b.len() && letters(i) {
                i += 1;
            }
        } else {
            i += ch.len_utf8();
        }
        out.push(&text[start..i]);
    }
    out
}

impl WordTokenizer {
    /// Builds the vocabulary from `texts`: every piece, every character seen, and printable
    /// ASCII plus `\n` and `\t` as a fallback, so any ASCII text round-trips.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut pieces: Vec<String> = vec!["<bos>".into(), "<unk>".into()];
        let mut seen: std::collections::BTreeSet<String> = (b' '..=b'~')
            .chain([b'\n', b'\t'])
            .map(|b| (b as char).to_string())
            .collect();
        for t in texts {
            for p in split(t) {
                seen.insert(p.to_owned());
                for c in p.chars() {
                    seen.insert(c.to_string());
                }
            }
        }
        pieces.extend(seen);
        Self::from_pieces(pieces)
    }

    /// A tokenizer from its piece list (as saved).
    pub fn from_pieces(pieces: Vec<String>) -> Self {
        let index = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i as u32))
            .collect();
        WordTokenizer { pieces, index }
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// The id of an exact piece.
    pub fn id(&self, piece: &str) -> Option<u32> {
        self.index.get(piece).copied()
    }

    /// Encodes `text`; unknown pieces fall back to characters, unknown characters to `<unk>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        for p in split(text) {
            match self.index.get(p) {
                Some(&i) => ids.push(i),
                None => {
                    for c in p.chars() {
                        let mut buf = [0u8; 4];
                        ids.push(
                            self.index
                                .get(&*c.encode_utf8(&mut buf))
                                .copied()
                                .unwrap_or(UNK),
                        );
                    }
                }
            }
        }
        ids
    }

    /// Decodes ids (special tokens decode to nothing).
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .filter(|&&i| i > UNK)
            .filter_map(|&i| self.pieces.get(i as usize))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_splits_words() {
        let t = WordTokenizer::build(["The goal is at position 8, 6.\n", "move up\n"]);
        let s = "The goal is at position 1, 1 0.\nmove up\n";
        assert_eq!(t.decode(&t.encode(s)), s);
        assert_eq!(t.encode("move up\n").len(), 3);
        assert_eq!(split(" up\n"), vec![" up", "\n"]);
        // Unknown words fall back to characters; any ASCII text round-trips.
        assert_eq!(t.decode(&t.encode("mop {x}")), "mop {x}");
        assert_eq!(t.decode(&t.encode("é")), "");
    }
}
