//! LMRL-Gym Wordle (spec §1.3; LMRL `wordle/env/game.py`, `env.py`): per-letter knowledge
//! states, a hidden word re-sampled at every guess from the words still consistent with
//! the knowledge (posterior sampling), colours read from the knowledge state
//! (`transition_sequence`, which differs from standard Wordle on repeated letters), and the
//! solve rule "one consistent word left and it was already guessed".

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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Knowledge(pub [CharState; 26]);

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

    /// Posterior-consistent expert: a consistent word whose possible outcomes split the
    /// consistent set into the most classes (ties: list order). The outcome of a guess
    /// against a target is fully determined by, per position, "same letter", "letter
    /// elsewhere in the target" or "absent" (`transition_state`), coded base 3. At most
    /// [`GUESS_POOL`] evenly spaced candidates are scored.
    pub fn expert(&self, vocab: &[Word]) -> u16 {
        best_split(&self.consistent, |g, t| {
            let (g, t) = (&vocab[g as usize], &vocab[t as usize]);
            (0..5).fold(0usize, |k, i| {
                k * 3
                    + if g[i] == t[i] {
                        2
                    } else if t.contains(&g[i]) {
                        1
                    } else {
                        0
                    }
            })
        })
    }
}

/// Most candidate guesses an expert scores per move.
pub const GUESS_POOL: usize = 100;

/// The candidate (from an evenly spaced pool of at most [`GUESS_POOL`]) whose outcome
/// codes (`outcome(guess, target)` < 243) split `candidates` into the most classes.
pub fn best_split(candidates: &[u16], outcome: impl Fn(u16, u16) -> usize) -> u16 {
    if candidates.len() <= 2 {
        return candidates.first().copied().unwrap_or(0);
    }
    let stride = candidates.len().div_ceil(GUESS_POOL);
    let mut best = (0usize, candidates[0]);
    for &g in candidates.iter().step_by(stride) {
        let mut seen = [false; 243];
        let mut n = 0;
        for &t in candidates {
            let k = outcome(g, t);
            n += usize::from(!seen[k]);
            seen[k] = true;
        }
        if n > best.0 {
            best = (n, g);
        }
    }
    best.1
}

/// The vocabulary as letter arrays.
pub fn vocab(words: &[&str]) -> Vec<Word> {
    words.iter().map(|w| letters(w)).collect()
}
