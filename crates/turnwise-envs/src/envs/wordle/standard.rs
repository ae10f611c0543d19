//! Standard Wordle (spec §10 table row 2, variant "standard"): a fixed hidden answer drawn
//! from the 2,315 official answers, guesses from the 12,972 accepted words, and the usual
//! two-pass colouring (greens first, then yellows up to the remaining letter counts).

use std::sync::OnceLock;

use super::words::{answers, letters, Word};

/// Two-pass feedback of `guess` against `answer`: 0 = b (grey), 1 = y, 2 = g per position.
pub fn feedback(guess: &Word, answer: &Word) -> [u8; 5] {
    let mut out = [0u8; 5];
    let mut left = [0u8; 26];
    for i in 0..5 {
        if guess[i] == answer[i] {
            out[i] = 2;
        } else {
            left[answer[i] as usize] += 1;
        }
    }
    for i in 0..5 {
        if out[i] == 0 && left[guess[i] as usize] > 0 {
            out[i] = 1;
            left[guess[i] as usize] -= 1;
        }
    }
    out
}

/// The feedback as a base-3 code (0..243).
pub fn code(f: &[u8; 5]) -> u8 {
    f.iter().rev().fold(0u8, |k, &x| k * 3 + x)
}

/// `"b y g b b"`.
pub fn text(f: &[u8; 5]) -> String {
    let mut s = String::with_capacity(9);
    for (i, &x) in f.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push(['b', 'y', 'g'][x as usize]);
    }
    s
}

/// The answer list as letter arrays.
pub fn answer_words() -> &'static [Word] {
    static W: OnceLock<Vec<Word>> = OnceLock::new();
    W.get_or_init(|| answers().iter().map(|w| letters(w)).collect())
}

/// Expert: among the candidates (answers consistent with all feedback), the one that
/// splits the candidates into the most feedback classes ([`super::lmrl::best_split`]).
/// The opening guess does not depend on the game, so it is computed once.
pub fn expert(candidates: &[u16]) -> u16 {
    let words = answer_words();
    let split = |c: &[u16]| {
        super::lmrl::best_split(c, |g, t| {
            code(&feedback(&words[g as usize], &words[t as usize])) as usize
        })
    };
    if candidates.len() == words.len() {
        static FIRST: OnceLock<u16> = OnceLock::new();
        return *FIRST.get_or_init(|| split(candidates));
    }
    split(candidates)
}
