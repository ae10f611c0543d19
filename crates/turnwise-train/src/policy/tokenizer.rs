//! A word-level tokenizer for small from-scratch policies. Two ways to cut a text into
//! pieces ([`Pieces`]): `letters`, runs of letters (with their leading space), single digits
//! and single other characters; or `words`, whitespace-separated words with their leading
//! space, punctuation and digits included (`" 5,"`, `" 8."`). The vocabulary is built from
//! the environment's texts, with a per-character fallback so that any text encodes.
//! Decoding concatenates pieces, so `decode(encode(s)) == s` for every `s` whose characters
//! are known. The trainer appends token ids to contexts and never re-tokenises
//! text it has already encoded (token-in / token-out, `anchors.md`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Id of the padding / beginning-of-sequence token.
pub const BOS: u32 = 0;
/// Id of the unknown-character token.
pub const UNK: u32 = 1;

/// How a text is cut into pieces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pieces {
    /// Runs of letters with their leading space, single digits, single other characters
    /// ([`split`]): `position 5, 8.` is `" position", " ", "5", ",", " ", "8", "."`.
    #[default]
    Letters,
    /// Whitespace-separated words with their leading space ([`split_words`]): `position 5,
    /// 8.` is `" position", " 5,", " 8."`, so a number's role (here row or column) is in its
    /// piece, where `letters` leaves it to the model to find from the position.
    Words,
}

impl Pieces {
    /// Parses `letters` or `words`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "letters" => Some(Pieces::Letters),
            "words" => Some(Pieces::Words),
            _ => None,
        }
    }

    /// Cuts `text` into pieces.
    pub fn split(self, text: &str) -> Vec<&str> {
        match self {
            Pieces::Letters => split(text),
            Pieces::Words => split_words(text),
        }
    }
}

/// The vocabulary: piece strings by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordTokenizer {
    /// Pieces by id; ids 0 and 1 are `<bos>` and `<unk>`.
    pub pieces: Vec<String>,
    /// How texts are cut into pieces.
    #[serde(default)]
    pub split: Pieces,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

/// Splits `text` into pieces: `[ ]?[A-Za-z]+`, single digits, single other characters.
pub fn split(text: &str) -> Vec<&str> {
    runs(text, |c| c.is_ascii_alphabetic())
}

/// Splits `text` into whitespace-separated words: a run of non-whitespace characters with
/// at most one leading space is one piece; every other whitespace character (a newline, a
/// tab, a space not followed by a word) is a piece of its own.
pub fn split_words(text: &str) -> Vec<&str> {
    runs(text, |c| !c.is_whitespace())
}

/// Cuts `text` into maximal runs of characters where `in_run` holds, each with at most one
/// leading space, and every other character on its own.
fn runs(text: &str, in_run: impl Fn(char) -> bool) -> Vec<&str> {
    let at = |j: usize| text[j..].chars().next().filter(|&c| in_run(c));
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(ch) = text[i..].chars().next() {
        let start = i;
        if ch == ' ' && at(i + 1).is_some() {
            i += 1;
        }
        if at(i).is_some() {
            while let Some(c) = at(i) {
                i += c.len_utf8();
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
        Self::build_with(texts, Pieces::Letters)
    }

    /// [`WordTokenizer::build`] with the pieces cut by `split`.
    pub fn build_with<'a>(texts: impl IntoIterator<Item = &'a str>, split: Pieces) -> Self {
        let mut pieces: Vec<String> = vec!["<bos>".into(), "<unk>".into()];
        let mut seen: std::collections::BTreeSet<String> = (b' '..=b'~')
            .chain([b'\n', b'\t'])
            .map(|b| (b as char).to_string())
            .collect();
        for t in texts {
            for p in split.split(t) {
                seen.insert(p.to_owned());
                for c in p.chars() {
                    seen.insert(c.to_string());
                }
            }
        }
        pieces.extend(seen);
        Self::from_pieces(pieces, split)
    }

    /// A tokenizer from its piece list and split (as saved).
    pub fn from_pieces(pieces: Vec<String>, split: Pieces) -> Self {
        let index = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i as u32))
            .collect();
        WordTokenizer {
            pieces,
            split,
            index,
        }
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
        for p in self.split.split(text) {
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

    #[test]
    fn words_keep_punctuation_and_digits_with_the_word() {
        let obs = "The goal is at position 8, 6. Your position is at position 1, 1 0.\n";
        assert_eq!(
            split_words("at position 5, 8.  x\n\tmove up\n"),
            vec![
                "at",
                " position",
                " 5,",
                " 8.",
                " ",
                " x",
                "\n",
                "\t",
                "move",
                " up",
                "\n"
            ]
        );
        let t = WordTokenizer::build_with([obs, "move up\n"], Pieces::Words);
        // Every piece of a text seen at build time is one id; others fall back to characters.
        assert_eq!(t.encode(obs).len(), split_words(obs).len());
        assert_eq!(t.encode("move up\n").len(), 3);
        for s in [obs, "position 9, 9 9.\nmove left\n", "mop {x}  \n"] {
            assert_eq!(t.decode(&t.encode(s)), s);
        }
        assert_ne!(t.id(" 8,"), t.id(" 8."));
        assert_eq!(split_words(""), Vec::<&str>::new());
    }
}
