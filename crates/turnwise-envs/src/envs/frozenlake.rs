//! `ragen/frozenlake`: RAGEN's FrozenLake (spec §2.2; RAGEN `ragen/env/frozen_lake`,
//! gymnasium `FrozenLakeEnv` rules): a random 4×4 map with p(frozen) = 0.8, random start
//! and goal, checked for a path; slippery moves (intended direction or either
//! perpendicular one, 1/3 each); +1 at the goal; the episode ends in a hole or at the goal.
//! Played in RAGEN turns ([`super::ragen`]). Texts are exact; maps and slips come from
//! turnwise's random stream.

use std::cell::RefCell;
use std::collections::HashMap;

use rand::Rng as _;
use turnwise_core::seed::Rng;

use super::ragen::{Game, Outcome, Ragen, TurnConfig, TURN_OPTIONS};
use crate::env::{Env, Text};
use crate::error::EnvError;
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::EnvSpec;
use crate::seeding::episode_rng;

/// RAGEN's FrozenLake instruction (verbatim, typos included, `config/envs.yaml`).
pub const INSTRUCTION: &str = "You are solving the FrozenLake puzzle. Forbid the whole and go to the target. You may move to the unintended direction due to the slippery ice. Example answer format: <think>To forbid the hole and go to the target, I should go left then go up.</think><answer>Left || Up</answer>";
const LEGEND: &str = "P: player, _: empty, O: hole, G: goal, X: player in hole, √: player on goal";
/// Gymnasium's action order.
const ACTIONS: [&str; 4] = ["Left", "Down", "Right", "Up"];
const DELTAS: [(i32, i32); 4] = [(0, -1), (1, 0), (0, 1), (-1, 0)];

const FROZEN: u8 = 0;
const HOLE: u8 = 1;
const GOAL: u8 = 2;

/// A FrozenLake game.
#[derive(Debug, Clone)]
pub struct FrozenLake {
    /// Side of the square map.
    pub size: usize,
    /// Probability that a cell is frozen (not a hole).
    pub p: f64,
    /// Slippery transitions.
    pub slippery: bool,
    map: Vec<u8>,
    pos: usize,
    /// Distance of the start cell to the goal (the progress measure's denominator).
    start_dist: usize,
    rng: Rng,
    /// Memo of [`FrozenLake::turn_value`] for the current map.
    memo: RefCell<HashMap<(u8, u8, u8, u8), TurnChoice>>,
}

/// The best open-loop sequence for one turn and its success probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnChoice {
    /// Probability of reaching the goal before the budgets run out.
    pub value: f64,
    /// The actions (the first `len` are used).
    pub actions: [u8; 2],
    /// Number of actions.
    pub len: u8,
}

impl FrozenLake {
    /// A 4×4 slippery game with RAGEN's settings (p = 0.8).
    pub fn with_defaults() -> FrozenLake {
        FrozenLake {
            size: 4,
            p: 0.8,
            slippery: true,
            map: vec![],
            pos: 0,
            start_dist: 0,
            rng: episode_rng("", 0),
            memo: RefCell::new(HashMap::new()),
        }
    }

    /// Dynamic programming over (cell, actions left, turns left): each turn plays an
    /// open-loop sequence of 1..=`kmax` (≤ 2) actions, which stops early in a hole or at
    /// the goal (RAGEN's `_execute_actions`). Returns the best first-turn choice; its
    /// value is the optimal success probability among such policies.
    pub fn turn_value(&self, pos: usize, actions: usize, turns: usize, kmax: usize) -> TurnChoice {
        let none = TurnChoice {
            value: 0.0,
            actions: [0, 0],
            len: 0,
        };
        if actions == 0 || turns == 0 {
            return none;
        }
        let key = (
            pos as u8,
            actions.min(255) as u8,
            turns.min(255) as u8,
            kmax as u8,
        );
        if let Some(c) = self.memo.borrow().get(&key) {
            return *c;
        }
        let mut best = TurnChoice {
            value: -1.0,
            ..none
        };
        for k in 1..=kmax.min(actions).min(2) {
            for s0 in 0..4 {
                for s1 in 0..(if k == 2 { 4 } else { 1 }) {
                    let mut v = 0.0;
                    for d in self.directions(s0) {
                        let c1 = self.next(pos, d);
                        match self.map[c1] {
                            GOAL => v += 1.0 / 3.0,
                            HOLE => {}
                            _ if k == 1 => {
                                v += self.turn_value(c1, actions - 1, turns - 1, kmax).value / 3.0
                            }
                            _ => {
                                for d2 in self.directions(s1) {
                                    let c2 = self.next(c1, d2);
                                    v += match self.map[c2] {
                                        GOAL => 1.0,
                                        HOLE => 0.0,
                                        _ => {
                                            self.turn_value(c2, actions - 2, turns - 1, kmax).value
                                        }
                                    } / 9.0;
                                }
                            }
                        }
                    }
                    if v > best.value + 1e-12 {
                        best = TurnChoice {
                            value: v,
                            actions: [s0 as u8, s1 as u8],
                            len: k as u8,
                        };
                    }
                }
            }
        }
        self.memo.borrow_mut().insert(key, best);
        best
    }

    /// The current cell.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Moves from `from` to the goal over frozen cells (holes avoided, slipping ignored);
    /// `None` from a hole or when the goal cannot be reached.
    pub fn distance_to_goal(&self, from: usize) -> Option<usize> {
        let n = self.size;
        if self.map.get(from) == Some(&HOLE) {
            return None;
        }
        let mut dist = vec![usize::MAX; n * n];
        let mut queue = std::collections::VecDeque::from([from]);
        dist[from] = 0;
        while let Some(s) = queue.pop_front() {
            if self.map[s] == GOAL {
                return Some(dist[s]);
            }
            for a in 0..4 {
                let t = self.next(s, a);
                if self.map[t] != HOLE && dist[t] == usize::MAX {
                    dist[t] = dist[s] + 1;
                    queue.push_back(t);
                }
            }
        }
        None
    }

    fn reachable(&self, map: &[u8], start: usize) -> bool {
        let n = self.size;
        let mut seen = vec![false; n * n];
        let mut stack = vec![start];
        while let Some(s) = stack.pop() {
            if seen[s] {
                continue;
            }
            seen[s] = true;
            for (dr, dc) in DELTAS {
                let (r, c) = ((s / n) as i32 + dr, (s % n) as i32 + dc);
                if r < 0 || c < 0 || r >= n as i32 || c >= n as i32 {
                    continue;
                }
                let t = r as usize * n + c as usize;
                if map[t] == GOAL {
                    return true;
                }
                if map[t] != HOLE {
                    stack.push(t);
                }
            }
        }
        false
    }

    fn next(&self, s: usize, a: usize) -> usize {
        let n = self.size as i32;
        let (dr, dc) = DELTAS[a];
        let r = ((s as i32 / n) + dr).clamp(0, n - 1);
        let c = ((s as i32 % n) + dc).clamp(0, n - 1);
        (r * n + c) as usize
    }

    fn directions(&self, a: usize) -> [usize; 3] {
        if self.slippery {
            [(a + 3) % 4, a, (a + 1) % 4]
        } else {
            [a, a, a]
        }
    }

    /// Finite-horizon value iteration: the best action and the probability of reaching
    /// the goal within `h` actions when acting optimally.
    pub fn best_action(&self, h: usize) -> (usize, f64) {
        let n = self.size * self.size;
        let mut v = vec![0.0f64; n];
        let q = |v: &[f64], s: usize, a: usize| -> f64 {
            self.directions(a)
                .iter()
                .map(|&d| {
                    let t = self.next(s, d);
                    match self.map[t] {
                        GOAL => 1.0,
                        HOLE => 0.0,
                        _ => v[t],
                    }
                })
                .sum::<f64>()
                / 3.0
        };
        for _ in 1..h.max(1) {
            let nv: Vec<f64> = (0..n)
                .map(|s| (0..4).map(|a| q(&v, s, a)).fold(0.0, f64::max))
                .collect();
            v = nv;
        }
        let mut best = (0, -1.0);
        for a in 0..4 {
            let x = q(&v, self.pos, a);
            if x > best.1 + 1e-12 {
                best = (a, x);
            }
        }
        best
    }
}

impl Game for FrozenLake {
    /// The fraction of the start's distance to the goal covered, `max(0, 1 − d/d0)`,
    /// distances over frozen cells ignoring slips (0 in a hole, 1 at the goal).
    fn progress(&self) -> Option<f64> {
        if self.map.is_empty() {
            return None;
        }
        let d0 = self.start_dist.max(1) as f64;
        Some(match self.distance_to_goal(self.pos) {
            Some(d) => (1.0 - d as f64 / d0).max(0.0),
            None => 0.0,
        })
    }

    fn credit_fields(&self) -> &'static [&'static str] {
        &["score", "subgoal", "switch"]
    }
    fn reset(&mut self, seed: u64) {
        let mut rng = episode_rng("ragen/frozenlake", seed);
        let n = self.size;
        for _ in 0..100_000 {
            let mut map: Vec<u8> = (0..n * n)
                .map(|_| {
                    if rng.random::<f64>() < self.p {
                        FROZEN
                    } else {
                        HOLE
                    }
                })
                .collect();
            let s = rng.random_range(0..n * n);
            let g = rng.random_range(0..n * n);
            if s == g {
                continue;
            }
            map[s] = FROZEN;
            map[g] = GOAL;
            if self.reachable(&map, s) {
                self.map = map;
                self.pos = s;
                self.start_dist = self.distance_to_goal(s).unwrap_or(0);
                self.rng = rng;
                self.memo.borrow_mut().clear();
                return;
            }
        }
        // Only reachable with tiny `p`: fall back to an all-frozen map, start and goal in
        // opposite corners.
        self.map = vec![FROZEN; n * n];
        self.map[n * n - 1] = GOAL;
        self.pos = 0;
        self.start_dist = self.distance_to_goal(0).unwrap_or(0);
        self.rng = rng;
        self.memo.borrow_mut().clear();
    }

    fn action_names(&self) -> Vec<Text> {
        ACTIONS.iter().map(|a| Text::Borrowed(*a)).collect()
    }

    fn act(&mut self, a: usize) -> Outcome {
        let d = if self.slippery {
            self.directions(a)[self.rng.random_range(0..3)]
        } else {
            a
        };
        let before = self.pos;
        self.pos = self.next(self.pos, d);
        let cell = self.map[self.pos];
        Outcome {
            reward: if cell == GOAL { 1.0 } else { 0.0 },
            done: cell != FROZEN,
            success: cell == GOAL,
            effective: before != self.pos,
        }
    }

    fn render(&self, out: &mut String) {
        let n = self.size;
        for r in 0..n {
            if r > 0 {
                out.push('\n');
            }
            for c in 0..n {
                let i = r * n + c;
                out.push_str(match (i == self.pos, self.map[i]) {
                    (true, HOLE) => "X",
                    (true, GOAL) => "√",
                    (true, _) => "P",
                    (false, HOLE) => "O",
                    (false, GOAL) => "G",
                    _ => "_",
                });
            }
        }
    }

    /// [`FrozenLake::turn_value`]: the optimal sequence of at most two actions for this
    /// turn, given the actions and turns left.
    fn plan(&self, budget: usize, turns: usize, max_len: usize) -> Vec<usize> {
        let c = self.turn_value(self.pos, budget, turns, max_len.min(2));
        c.actions[..c.len.max(1) as usize]
            .iter()
            .map(|&a| a as usize)
            .collect()
    }
}

fn make(opts: &Options) -> Result<Box<dyn Env>, EnvError> {
    let p = opts.float("p");
    if !(0.0..=1.0).contains(&p) || p == 0.0 {
        return Err(opts.bad("p", &p.to_string(), "a probability in (0, 1]"));
    }
    let game = FrozenLake {
        size: opts.count("size", 2, 16)?,
        p,
        slippery: opts.bool("slippery"),
        map: vec![],
        pos: 0,
        start_dist: 0,
        rng: episode_rng("", 0),
        memo: RefCell::new(HashMap::new()),
    };
    let cfg = TurnConfig::from_options(opts, INSTRUCTION, Some(LEGEND), Some(&ACTIONS.join(", ")))?;
    Ok(Box::new(Ragen::new(game, cfg)))
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "size",
        kind: OptionKind::Int,
        default: "4",
        doc: "map side (RAGEN FrozenLakeEnvConfig.size)",
    },
    OptionSpec {
        name: "p",
        kind: OptionKind::Float,
        default: "0.8",
        doc: "probability that a cell is frozen (RAGEN p)",
    },
    OptionSpec {
        name: "slippery",
        kind: OptionKind::Bool,
        default: "true",
        doc: "gymnasium is_slippery: intended or perpendicular direction, 1/3 each",
    },
    TURN_OPTIONS[0],
    TURN_OPTIONS[1],
    TURN_OPTIONS[2],
    TURN_OPTIONS[3],
    TURN_OPTIONS[4],
];

/// `ragen/frozenlake`.
pub static SPEC: EnvSpec = EnvSpec {
    name: "ragen/frozenlake",
    doc: "RAGEN FrozenLake: random 4x4 map (p=0.8, random start and goal), slippery, +1 at the goal; RAGEN prompt and multi-action turns (5 turns, 10 actions).",
    options: OPTIONS,
    make,
};
