//! `lmrl/wordle` (LMRL-Gym's exact game, spec §1.3) and `wordle/standard` (fixed hidden
//! answer, two-pass colouring). Both use LMRL's text format: first observation
//! `"Wordle:\n"`, actions `"c r a n e"` (spaces optional), feedback `"b y g b b\n"`, an
//! invalid word answered by `"\n"`. Reward −1 per guess, 0 on the solving guess; an
//! invalid word costs `invalid_penalty` (−1) and uses one of the 6 guesses.

pub mod lmrl;
pub mod standard;
pub mod words;

use std::sync::OnceLock;

use crate::env::{Env, Info, Observation, Step, Text};
use crate::error::EnvError;
use crate::options::{InvalidPolicy, OptionKind, OptionSpec, Options};
use crate::registry::EnvSpec;
use crate::seeding::episode_rng;
use rand::Rng as _;
use turnwise_core::seed::Rng;
use words::{letters, parse_guess, spaced, Word};

/// LMRL's vocabulary as letter arrays.
pub fn lmrl_vocab() -> &'static [Word] {
    static V: OnceLock<Vec<Word>> = OnceLock::new();
    V.get_or_init(|| lmrl::vocab(words::lmrl_400()))
}

#[derive(Clone)]
enum Mode {
    /// LMRL: posterior sampling over the 431-word vocabulary.
    Lmrl(lmrl::Game),
    /// Standard: a fixed answer; candidates consistent with the feedback so far.
    Standard {
        answer: u16,
        candidates: Vec<u16>,
        all_guesses: bool,
    },
}

/// A Wordle environment.
#[derive(Clone)]
pub struct Wordle {
    mode: Mode,
    standard: bool,
    all_guesses: bool,
    max_guesses: usize,
    invalid: InvalidPolicy,
    used: usize,
    done: bool,
    history: String,
    rng: Rng,
}

impl Wordle {
    fn name(&self) -> &'static str {
        if self.standard {
            STANDARD.name
        } else {
            LMRL.name
        }
    }

    /// Standard mode: the information gained so far, `1 − ln|C|/ln N` with C the answers
    /// consistent with the feedback and N all answers (1 once solved); none in LMRL mode.
    fn progress(&self, solved: bool) -> Option<f64> {
        match &self.mode {
            Mode::Standard { candidates, .. } => Some(if solved {
                1.0
            } else {
                let n = words::answers().len() as f64;
                1.0 - (candidates.len().max(1) as f64).ln() / n.ln()
            }),
            Mode::Lmrl(_) => None,
        }
    }

    fn key(&self) -> Option<Text> {
        Some(Text::Owned(self.history.clone()))
    }

    fn ground_truth(&self) -> Option<Text> {
        match &self.mode {
            Mode::Standard { answer, .. } => {
                Some(Text::Borrowed(words::answers()[*answer as usize]))
            }
            Mode::Lmrl(_) => None,
        }
    }

    /// Index of a valid guess, if the word is allowed.
    fn lookup(&self, w: &str) -> Option<u16> {
        match &self.mode {
            Mode::Lmrl(_) => words::index_of(words::lmrl_400(), w),
            Mode::Standard { all_guesses, .. } => {
                let answer = words::index_of(words::answers(), w);
                let in_list = answer.is_some()
                    || (*all_guesses && words::guesses().binary_search(&w).is_ok());
                // Valid guesses are reported as answer indices when they are answers,
                // else as u16::MAX (allowed, never the answer).
                in_list.then_some(answer.unwrap_or(u16::MAX))
            }
        }
    }
}

impl Env for Wordle {
    crate::snapshot_by_clone!();

    fn reset(&mut self, seed: u64) -> Observation {
        self.rng = episode_rng(self.name(), seed);
        self.used = 0;
        self.done = false;
        self.history.clear();
        self.mode = if self.standard {
            let n = words::answers().len();
            Mode::Standard {
                answer: self.rng.random_range(0..n) as u16,
                candidates: (0..n as u16).collect(),
                all_guesses: self.all_guesses,
            }
        } else {
            Mode::Lmrl(lmrl::Game::new(lmrl_vocab()))
        };
        Observation {
            text: Text::Borrowed("Wordle:\n"),
            info: Info {
                action_valid: true,
                ground_truth: self.ground_truth(),
                state_key: self.key(),
                progress: self.progress(false),
                ..Info::default()
            },
        }
    }

    fn step(&mut self, action: &str) -> Step {
        if self.done {
            return Step {
                terminated: true,
                ..Step::default()
            };
        }
        let guess = parse_guess(action).and_then(|w| self.lookup(&w).map(|i| (w, i)));
        let Some((word, idx)) = guess else {
            if self.invalid.consumes_turn {
                self.used += 1;
            }
            let truncated = self.used >= self.max_guesses;
            self.done = truncated;
            return Step {
                observation: Text::Borrowed("\n"),
                reward: self.invalid.penalty,
                terminated: false,
                truncated,
                info: Info {
                    ground_truth: self.ground_truth(),
                    state_key: self.key(),
                    progress: self.progress(false),
                    ..Info::default()
                },
            };
        };
        self.used += 1;
        let (colours, solved) = match &mut self.mode {
            Mode::Lmrl(g) => g.guess(lmrl_vocab(), idx, &mut self.rng),
            Mode::Standard {
                answer, candidates, ..
            } => {
                let aw = standard::answer_words();
                let gw = letters(&word);
                let f = standard::feedback(&gw, &aw[*answer as usize]);
                candidates.retain(|&c| standard::feedback(&gw, &aw[c as usize]) == f);
                (standard::text(&f), idx == *answer)
            }
        };
        if !self.history.is_empty() {
            self.history.push('|');
        }
        self.history.push_str(&word);
        self.history.push(':');
        self.history.push_str(&colours);
        let truncated = !solved && self.used >= self.max_guesses;
        self.done = solved || truncated;
        Step {
            observation: Text::Owned(format!("{colours}\n")),
            reward: if solved { 0.0 } else { -1.0 },
            terminated: solved,
            truncated,
            info: Info {
                success: solved,
                action_valid: true,
                action_effective: true,
                ground_truth: self.ground_truth(),
                state_key: self.key(),
                progress: self.progress(solved),
                ..Info::default()
            },
        }
    }

    fn stop(&self) -> Option<&'static str> {
        Some("\n")
    }

    /// Standard mode: `score` (the information gained, [`Wordle`]'s progress).
    fn credit_fields(&self) -> &'static [&'static str] {
        if self.standard {
            &["score"]
        } else {
            &[]
        }
    }

    /// The hidden word as a guess (standard mode; LMRL's posterior sampling has none).
    fn gold_action(&self) -> Option<String> {
        match &self.mode {
            Mode::Standard { answer, .. } => Some(spaced(words::answers()[*answer as usize])),
            Mode::Lmrl(_) => None,
        }
    }

    fn expert_action(&self) -> Option<String> {
        if self.done {
            return None;
        }
        let w = match &self.mode {
            Mode::Lmrl(g) => words::lmrl_400()[g.expert(lmrl_vocab()) as usize],
            Mode::Standard { candidates, .. } => {
                words::answers()[standard::expert(candidates) as usize]
            }
        };
        Some(spaced(w))
    }

    fn action_space(&self) -> Vec<Text> {
        let list = if self.standard {
            words::answers()
        } else {
            words::lmrl_400()
        };
        list.iter().map(|w| Text::Owned(spaced(w))).collect()
    }
}

fn make(opts: &Options, standard: bool) -> Result<Box<dyn Env>, EnvError> {
    Ok(Box::new(Wordle {
        mode: Mode::Lmrl(lmrl::Game::default()),
        standard,
        all_guesses: !standard || opts.str("guesses") == "all",
        max_guesses: opts.count("max_guesses", 1, 1000)?,
        invalid: InvalidPolicy::from_options(opts),
        used: 0,
        done: true,
        history: String::new(),
        rng: episode_rng("", 0),
    }))
}

const INVALID: [OptionSpec; 3] = [
    OptionSpec {
        name: "max_guesses",
        kind: OptionKind::Int,
        default: "6",
        doc: "guesses per game (LMRL N_TRIES = 6)",
    },
    OptionSpec {
        name: "invalid_penalty",
        kind: OptionKind::Float,
        default: "-1",
        doc: "reward of an invalid word (LMRL bad_word_reward = -1)",
    },
    OptionSpec {
        name: "invalid_consumes_turn",
        kind: OptionKind::Bool,
        default: "true",
        doc: "whether an invalid word uses one of the guesses (LMRL: yes)",
    },
];

/// `lmrl/wordle`.
pub static LMRL: EnvSpec = EnvSpec {
    name: "lmrl/wordle",
    doc: "LMRL-Gym Wordle: 431-word vocabulary (guesses must come from it), hidden word re-sampled from the consistent words at each guess, LMRL knowledge-state colouring, solved = one consistent word left and already guessed.",
    options: &INVALID,
    make: |o| make(o, false),
};

const STANDARD_OPTIONS: [OptionSpec; 4] = [
    INVALID[0],
    INVALID[1],
    INVALID[2],
    OptionSpec {
        name: "guesses",
        kind: OptionKind::Choice(&["all", "answers"]),
        default: "all",
        doc: "allowed guesses: the 12,972 accepted words, or the 2,315 answers only",
    },
];

/// `wordle/standard`.
pub static STANDARD: EnvSpec = EnvSpec {
    name: "wordle/standard",
    doc: "Standard Wordle: hidden answer drawn from the 2,315 official answers, 12,972 accepted guesses, two-pass colouring; LMRL's text format and rewards.",
    options: &STANDARD_OPTIONS,
    make: |o| make(o, true),
};
