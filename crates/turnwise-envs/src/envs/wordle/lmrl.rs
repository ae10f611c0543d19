//! LMRL-Gym Wordle (spec §1.3; LMRL `wordle/env/game.py`, `env.py`): per-letter knowledge
//! states, a hidden word re-sampled at every guess from the words still consistent with
//! the knowledge (posterior sampling), colours read from the knowledge state
//! (`transition_sequence`, which differs from standard Wordle on repeated letters), and the
//! solve rule "one consistent word left and it was already guessed".

use std::collections::HashSet;

use rand::Rng as _;
use turnwise_core::seed::Rng;

use super::words::{letters, Word};

/// Knowledge about one letter: bit i of `here` = HERE at position i; bit i of `not_here` =
/// NOT_HERE at i; neither = POSSIBLE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CharState {
    here: u8,
    not_here: u8,
}

const ALL: u8 = 0b11111;

impl CharState {
    /// `CharState.word_satisfies`.
    fn satisfies(&self, c: u8, w: &Word) -> bool {
        if self.here == 0 && self.not_here == 0 {
            return true;
        }
        if self.not_here == ALL {
            return !w.contains(&c);
        }
        for (i, wc) in w.iter().enumerate() {
            let bit = 1 << i;
            if self.here & bit != 0 && *wc != c {
                return false;
            }
            if self.not_here & bit != 0 && *wc == c {
                return false;
            }
        }
        w.contains(&c)
    }
}

/// `WordleState`: knowledge about all 26 letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Knowledge(pub [CharState; 26]);

impl Default for Knowledge {
    fn default() -> Self {
        Knowledge([CharState::default(); 26])
    }
}

impl Knowledge {
    /// `word_in_state`.
    pub fn admits(&self, w: &Word) -> bool {
        self.0
            .iter()
            .enumerate()
            .all(|(c, s)| s.satisfies(c as u8, w))
    }

    /// `transition_state(selected, target)`.
    pub fn transition(&self, guess: &Word, target: &Word) -> Knowledge {
        let mut k = *self;
        for (i, &c) in guess.iter().enumerate() {
            let s = &mut k.0[c as usize];
            let bit = 1u8 << i;
            if target[i] == c {
                s.here |= bit;
                s.not_here &= !bit;
            } else if target.contains(&c) {
                s.not_here |= bit;
                s.here &= !bit;
            } else {
                s.here = 0;
                s.not_here = ALL;
            }
        }
        k
    }

    /// `transition_sequence()[-1]`: the colours of `guess` read from this (updated) state,
    /// as LMRL's reformatted text `"b y g b b"`.
    pub fn colours(&self, guess: &Word) -> String {
        let mut out = String::with_capacity(9);
        for (i, &c) in guess.iter().enumerate() {
            let s = self.0[c as usize];
            let bit = 1u8 << i;
            let ch = if s.here & bit != 0 {
                Some('g')
            } else if s.not_here == ALL {
                Some('b')
            } else if s.not_here & bit != 0 {
                Some('y')
            } else {
                None
            };
            if let Some(ch) = ch {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push(ch);
            }
        }
        out
    }
}

/// The state of one LMRL Wordle game.
#[derive(Debug, Clone, Default)]
pub struct Game {
    /// Knowledge so far.
    pub knowledge: Knowledge,
    /// Words of the vocabulary consistent with the knowledge (indices).
    pub consistent: Vec<u16>,
    /// Valid guesses made so far.
    pub guessed: Vec<u16>,
}

impl Game {
    /// A new game over `vocab`.
    pub fn new(vocab: &[Word]) -> Game {
        Game {
            knowledge: Knowledge::default(),
            consistent: (0..vocab.len() as u16).collect(),
            guessed: vec![],
        }
    }

    /// Applies a valid guess (index into `vocab`): samples the hidden word from the
    /// consistent words (LMRL `get_random_word_filtered`), then [`Game::guess_against`].
    pub fn guess(&mut self, vocab: &[Word], g: u16, rng: &mut Rng) -> (String, bool) {
        // The consistent set always holds the previous target, so it is never empty; the
        // guard keeps arbitrary vocabularies from panicking.
        let target = match self.consistent.len() {
            0 => g,
            n => self.consistent[rng.random_range(0..n)],
        };
        self.guess_against(vocab, g, target)
    }

    /// Applies guess `g` against hidden word `target` (`transition_state`), filters the
    /// consistent words; returns the colours and whether the game is solved (one
    /// consistent word left, already guessed: LMRL `reward() == 0`).
    pub fn guess_against(&mut self, vocab: &[Word], g: u16, target: u16) -> (String, bool) {
        self.knowledge = self
            .knowledge
            .transition(&vocab[g as usize], &vocab[target as usize]);
        self.consistent
            .retain(|&w| self.knowledge.admits(&vocab[w as usize]));
        self.guessed.push(g);
        let solved = self.consistent.len() == 1 && self.guessed.contains(&self.consistent[0]);
        (self.knowledge.colours(&vocab[g as usize]), solved)
    }

    /// Posterior-consistent expert: among the consistent words, the one whose outcomes
    /// split the consistent set into the most distinct knowledge states (ties: list order).
    pub fn expert(&self, vocab: &[Word]) -> u16 {
        if self.consistent.is_empty() {
            return 0;
        }
        if self.consistent.len() <= 2 {
            return self.consistent[0];
        }
        let mut best = (0usize, self.consistent[0]);
        for &g in &self.consistent {
            let parts: HashSet<Knowledge> = self
                .consistent
                .iter()
                .map(|&t| self.knowledge.transition(&vocab[g as usize], &vocab[t as usize]))
                .collect();
            if parts.len() > best.0 {
                best = (parts.len(), g);
            }
        }
        best.1
    }
}

/// The vocabulary as letter arrays.
pub fn vocab(words: &[&str]) -> Vec<Word> {
    words.iter().map(|w| letters(w)).collect()
}
