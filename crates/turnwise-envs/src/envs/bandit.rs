//! `ragen/bandit`: RAGEN's two-armed bandit (spec §2.3; RAGEN `ragen/env/bandit/env.py`):
//! a single pull; the low arm ("Phoenix") pays 0.1, the high arm ("Dragon") pays 1 with
//! probability 0.25 (else 0); arm order is random per seed; success = choosing the high
//! arm. Texts are exact (prompt and `"{arm}: {reward} points"`).

use rand::Rng as _;
use turnwise_core::seed::Rng;

use super::ragen::{Game, Outcome, Ragen, TurnConfig, TURN_OPTIONS};
use crate::env::{Env, Text};
use crate::error::EnvError;
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::EnvSpec;
use crate::seeding::episode_rng;

/// A two-armed bandit.
#[derive(Debug, Clone)]
pub struct Bandit {
    /// Low arm name.
    pub lo: String,
    /// High arm name.
    pub hi: String,
    /// Low arm reward (RAGEN code 0.1; the paper says 0.15).
    pub lo_score: f64,
    /// Probability of the high arm's high score.
    pub hi_prob: f64,
    hi_first: bool,
    last: Option<String>,
    rng: Rng,
}

/// Python's `str(float)` for the rewards the bandit pays (`1.0`, `0.1`, `0.0`).
fn py_float(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

impl Bandit {
    fn names(&self) -> [&str; 2] {
        if self.hi_first {
            [&self.hi, &self.lo]
        } else {
            [&self.lo, &self.hi]
        }
    }
}

impl Game for Bandit {
    fn reset(&mut self, seed: u64) {
        self.rng = episode_rng("ragen/bandit", seed);
        self.hi_first = self.rng.random::<f64>() >= 0.5;
        self.last = None;
    }

    fn action_names(&self) -> Vec<Text> {
        self.names()
            .iter()
            .map(|n| Text::Owned(n.to_string()))
            .collect()
    }

    fn act(&mut self, a: usize) -> Outcome {
        let name = self.names()[a].to_owned();
        let high = name == self.hi;
        let reward = if !high {
            self.lo_score
        } else if self.rng.random::<f64>() < self.hi_prob {
            1.0
        } else {
            0.0
        };
        self.last = Some(format!("{name}: {} points", py_float(reward)));
        Outcome {
            reward,
            done: true,
            success: high,
            effective: true,
        }
    }

    fn render(&self, out: &mut String) {
        match &self.last {
            Some(t) => out.push_str(t),
            None => {
                let [a, b] = self.names();
                out.push_str(&format!("You are playing a bandit game. Goal: Maximize your total reward by choosing which arm to pull. \nGame Rules: \n1. There are 2 arms, named {a} and {b}\n2. Each arm has its own reward distribution, related to their names. \n3. Analyze the symbolic meaning of each arm's name to guess how their reward distribution might behave.\n4. Based on the symbolic meaning of their names, which arm do you think is more likely to give higher rewards on average? Choose between {a} and {b}, and output like <answer> {a} </answer> or <answer> {b} </answer>.\n"));
            }
        }
    }

    /// The high arm (higher mean: 0.25 > 0.1).
    fn plan(&self, _budget: usize, _turns: usize, _max_len: usize) -> Vec<usize> {
        vec![usize::from(self.hi_first == (self.lo_score > self.hi_prob))]
    }

    fn ground_truth(&self) -> Option<Text> {
        Some(Text::Owned(self.hi.clone()))
    }
}

fn make(opts: &Options) -> Result<Box<dyn Env>, EnvError> {
    let (lo, hi) = match opts.str("variant") {
        "test" => ("Trader", "Librarian"),
        _ => ("Phoenix", "Dragon"),
    };
    let game = Bandit {
        lo: lo.to_owned(),
        hi: hi.to_owned(),
        lo_score: opts.float("lo_score"),
        hi_prob: opts.float("hi_prob"),
        hi_first: false,
        last: None,
        rng: episode_rng("", 0),
    };
    let cfg = TurnConfig::from_options(opts, "", None, None)?;
    Ok(Box::new(Ragen::new(game, cfg)))
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "variant",
        kind: OptionKind::Choice(&["train", "test"]),
        default: "train",
        doc: "arm names: train = Phoenix (low) / Dragon (high); test = Trader / Librarian",
    },
    OptionSpec {
        name: "lo_score",
        kind: OptionKind::Float,
        default: "0.1",
        doc: "low arm's fixed reward (RAGEN code 0.1, paper 0.15)",
    },
    OptionSpec {
        name: "hi_prob",
        kind: OptionKind::Float,
        default: "0.25",
        doc: "probability that the high arm pays 1 (else 0)",
    },
    OptionSpec {
        name: "max_actions",
        kind: OptionKind::Int,
        default: "1",
        doc: "RAGEN max_actions_per_traj (1: a single pull)",
    },
    TURN_OPTIONS[1],
    TURN_OPTIONS[2],
    TURN_OPTIONS[3],
    TURN_OPTIONS[4],
];

/// `ragen/bandit`.
pub static SPEC: EnvSpec = EnvSpec {
    name: "ragen/bandit",
    doc: "RAGEN bi-arm bandit: one pull between Phoenix (0.1) and Dragon (Bernoulli 0.25 x 1), random order; success = the high arm.",
    options: OPTIONS,
    make,
};
