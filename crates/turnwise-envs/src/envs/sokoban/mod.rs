//! `ragen/sokoban`: RAGEN's SimpleSokoban (6×6, 1 box), LargerSokoban (8×8, 2 boxes,
//! search depth 10) and SokobanDifferentGridVocab (spec §2.1; RAGEN `config/envs.yaml`,
//! `ragen/env/sokoban/env.py`; gym-sokoban rules and rewards), played in RAGEN turns
//! ([`super::ragen`]).
//!
//! Rewards (gym-sokoban): −0.1 per action, +1 for a box pushed onto a target, −1 for a box
//! pushed off, +10 when all boxes are placed. Texts are exact; levels come from the same
//! reverse-play generator with turnwise's random stream ([`gen`]).

pub mod gen;
pub mod solve;

use rand::SeedableRng;

use super::ragen::{Game, Outcome, Ragen, TurnConfig, TURN_OPTIONS};
use crate::env::{Env, Text};
use crate::error::EnvError;
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::EnvSpec;
use crate::seeding::episode_rng;
use gen::{Level, DIRS, TARGET, WALL};

/// RAGEN's Sokoban instruction (verbatim, `config/envs.yaml`).
pub const INSTRUCTION: &str = "You are solving the Sokoban puzzle. You are the player and you need to push all boxes to targets. When you are right next to a box, you can push it by moving in the same direction. You cannot push a box through a wall, and you cannot pull a box. The answer should be a sequence of actions, like <answer>Right || Right || Up</answer>";

/// Symbols: wall, empty, target, box on target, box, player, player on target.
const VOCAB_STANDARD: [&str; 7] = ["#", "_", "O", "√", "X", "P", "S"];
const VOCAB_DIFFERENT: [&str; 7] = ["W", ".", "G", "C", "B", "A", "@"];
const NAMES: [&str; 7] = [
    "wall",
    "empty",
    "target",
    "box on target",
    "box",
    "player",
    "player on target",
];
const ACTIONS: [&str; 4] = ["Up", "Down", "Left", "Right"];

/// A Sokoban game (gym-sokoban rules).
#[derive(Debug, Clone)]
pub struct Sokoban {
    /// Rows and columns.
    pub dim: usize,
    /// Boxes per level.
    pub num_boxes: usize,
    /// Reverse-play search depth.
    pub search_depth: usize,
    /// gym-sokoban `max_steps` (100).
    pub max_steps: usize,
    vocab: &'static [&'static str; 7],
    level: Level,
    fallback: Level,
    targets: Vec<u8>,
    steps: usize,
    seed: u64,
}

impl Sokoban {
    fn on_target(&self) -> usize {
        self.level
            .boxes
            .iter()
            .filter(|b| self.level.fixed[**b as usize] == TARGET)
            .count()
    }

    /// The current level.
    pub fn level(&self) -> &Level {
        &self.level
    }
}

/// Generates the level of `seed`, reseeding at most `attempts` times.
fn generate(g: &Sokoban, seed: u64, attempts: usize) -> Option<Level> {
    let mut rng = episode_rng("ragen/sokoban", seed);
    for _ in 0..attempts {
        if let Some(l) = gen::try_generate(g.dim, g.dim, g.num_boxes, g.search_depth, &mut rng) {
            return Some(l);
        }
        rng = turnwise_core::seed::Rng::seed_from_u64(rand::Rng::random(&mut rng));
    }
    None
}

impl Game for Sokoban {
    /// The fraction of boxes on targets.
    fn progress(&self) -> Option<f64> {
        let n = self.level.boxes.len();
        Some(if n == 0 {
            1.0
        } else {
            self.on_target() as f64 / n as f64
        })
    }

    /// Subgoal k: placing the (k+1)-th box (the number of boxes on targets; pushing one
    /// off goes back a subgoal).
    fn subgoal(&self) -> Option<u32> {
        Some(self.on_target() as u32)
    }

    fn credit_fields(&self) -> &'static [&'static str] {
        &["score", "subgoal", "switch"]
    }

    fn reset(&mut self, seed: u64) {
        self.seed = seed;
        // RAGEN reseeds on generation failure; so do we, with a derived stream. Settings
        // that never generate were rejected by `make`; the cap is a last resort.
        let level = generate(self, seed, 10_000).unwrap_or_else(|| self.fallback.clone());
        self.targets = (0..level.fixed.len() as u8)
            .filter(|i| level.fixed[*i as usize] == TARGET)
            .collect();
        self.level = level;
        self.steps = 0;
    }

    fn action_names(&self) -> Vec<Text> {
        ACTIONS.iter().map(|a| Text::Borrowed(*a)).collect()
    }

    fn act(&mut self, a: usize) -> Outcome {
        let (dr, dc) = DIRS[a];
        let w = self.level.w as i32;
        let d = dr * w + dc;
        let before = self.on_target();
        let p = self.level.player as i32;
        let n = (p + d) as usize;
        let mut effective = false;
        if self.level.fixed[n] != WALL {
            if let Some(i) = self.level.boxes.iter().position(|b| *b as usize == n) {
                let beyond = (n as i32 + d) as usize;
                if self.level.fixed[beyond] != WALL && !self.level.boxes.contains(&(beyond as u8)) {
                    self.level.boxes[i] = beyond as u8;
                    self.level.player = n as u8;
                    effective = true;
                }
            } else {
                self.level.player = n as u8;
                effective = true;
            }
        }
        self.steps += 1;
        let after = self.on_target();
        let mut reward = -0.1;
        if after > before {
            reward += 1.0;
        } else if after < before {
            reward -= 1.0;
        }
        let won = after == self.level.boxes.len();
        if won {
            reward += 10.0;
        }
        Outcome {
            reward,
            done: won || self.steps >= self.max_steps,
            success: won,
            effective,
        }
    }

    fn render(&self, out: &mut String) {
        let l = &self.level;
        for r in 0..l.h {
            if r > 0 {
                out.push('\n');
            }
            for c in 0..l.w {
                let i = r * l.w + c;
                let t = l.fixed[i] == TARGET;
                let sym = if l.fixed[i] == WALL {
                    0
                } else if l.player as usize == i {
                    if t {
                        6
                    } else {
                        5
                    }
                } else if l.boxes.contains(&(i as u8)) {
                    if t {
                        3
                    } else {
                        4
                    }
                } else if t {
                    2
                } else {
                    1
                };
                out.push_str(self.vocab[sym]);
            }
        }
    }

    fn plan(&self, budget: usize, _turns: usize, max_len: usize) -> Vec<usize> {
        let l = &self.level;
        let mut p =
            solve::shortest(&l.fixed, l.w, &self.targets, l.player, &l.boxes).unwrap_or_default();
        p.truncate(max_len.min(budget));
        p
    }
}

fn opt_or(opts: &Options, key: &str, auto: usize, max: usize) -> Result<usize, EnvError> {
    let s = opts.str(key);
    if s == "auto" {
        return Ok(auto);
    }
    match s.parse::<usize>() {
        Ok(v) if v >= 1 && v <= max => Ok(v),
        _ => Err(opts.bad(key, s, &format!("`auto` or an integer in 1..={max}"))),
    }
}

fn make(opts: &Options) -> Result<Box<dyn Env>, EnvError> {
    let variant = opts.str("variant");
    let (dim, boxes, depth) = match variant {
        "larger" => (8, 2, 10),
        _ => (6, 1, 300),
    };
    let dim = opt_or(opts, "dim", dim, 16)?;
    if dim < 4 {
        return Err(opts.bad("dim", &dim.to_string(), "an integer in 4..=16"));
    }
    let num_boxes = opt_or(opts, "num_boxes", boxes, 7)?;
    let search_depth = opt_or(opts, "search_depth", depth, 10_000)?;
    let vocab = if variant == "new-vocab" {
        &VOCAB_DIFFERENT
    } else {
        &VOCAB_STANDARD
    };
    let legend = vocab
        .iter()
        .zip(NAMES)
        .map(|(s, n)| format!("{s}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let cfg =
        TurnConfig::from_options(opts, INSTRUCTION, Some(&legend), Some(&ACTIONS.join(", ")))?;
    let mut game = Sokoban {
        dim,
        num_boxes,
        search_depth,
        max_steps: opts.count("max_steps", 1, 1 << 20)?,
        vocab,
        level: Level {
            h: 0,
            w: 0,
            fixed: vec![],
            boxes: vec![],
            player: 0,
        },
        fallback: Level {
            h: 0,
            w: 0,
            fixed: vec![],
            boxes: vec![],
            player: 0,
        },
        targets: vec![],
        steps: 0,
        seed: 0,
    };
    game.fallback = generate(&game, 0, 200).ok_or_else(|| {
        opts.bad(
            "num_boxes",
            &num_boxes.to_string(),
            &format!("a box count that fits a {dim}x{dim} room (no level could be generated)"),
        )
    })?;
    Ok(Box::new(Ragen::new(game, cfg)))
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "variant",
        kind: OptionKind::Choice(&["simple", "larger", "new-vocab"]),
        default: "simple",
        doc: "SimpleSokoban (6x6, 1 box, depth 300), LargerSokoban (8x8, 2 boxes, depth 10) or SokobanDifferentGridVocab (W . G C B A @)",
    },
    OptionSpec {
        name: "dim",
        kind: OptionKind::Str,
        default: "auto",
        doc: "room size (square), `auto` = the variant's",
    },
    OptionSpec {
        name: "num_boxes",
        kind: OptionKind::Str,
        default: "auto",
        doc: "boxes, `auto` = the variant's",
    },
    OptionSpec {
        name: "search_depth",
        kind: OptionKind::Str,
        default: "auto",
        doc: "reverse-play search depth, `auto` = the variant's",
    },
    OptionSpec {
        name: "max_steps",
        kind: OptionKind::Int,
        default: "100",
        doc: "gym-sokoban max_steps",
    },
    TURN_OPTIONS[0],
    TURN_OPTIONS[1],
    TURN_OPTIONS[2],
    TURN_OPTIONS[3],
    TURN_OPTIONS[4],
];

/// `ragen/sokoban`.
pub static SPEC: EnvSpec = EnvSpec {
    name: "ragen/sokoban",
    doc: "RAGEN Sokoban (SimpleSokoban 6x6/1 box; variant=larger 8x8/2 boxes; variant=new-vocab). Reverse-play generator, gym-sokoban rewards, RAGEN prompt and `a || b` multi-action turns (5 turns, 10 actions).",
    options: OPTIONS,
    make,
};
