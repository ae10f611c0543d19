//! RAGEN's multi-action turns (spec §2: `es_manager.py`, `ctx_manager.py`), shared by
//! `ragen/sokoban`, `ragen/frozenlake` and `ragen/bandit`.
//!
//! A turn's action text is the content of `<answer>…</answer>` (see [`crate::render`]):
//! it is split on `||`, empty items dropped, at most `max_actions_per_turn` kept, and each
//! matched case-insensitively against the game's action names. Unknown actions are dropped;
//! if any was dropped or none is left, the turn gets the format penalty (−0.1). The valid
//! actions run in order until the game ends or the episode's action budget
//! (`max_actions_per_traj`) is spent. The turn's reward is the sum of the executed
//! actions' rewards plus the penalty. RAGEN adds the accumulated penalty to the final
//! reward instead; the sum over the episode is the same.
//!
//! `terminated`: the game ended (goal, hole, bandit pull). `truncated`: the action budget
//! or the turn limit (`max_turn` 5) ran out first (spec §10.1.1).

use crate::env::{Env, Info, Observation, Step, Text};
use crate::error::EnvError;
use crate::options::{InvalidPolicy, OptionKind, OptionSpec, Options};

/// What one primitive action did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Outcome {
    /// The action's reward.
    pub reward: f64,
    /// The game ended.
    pub done: bool,
    /// The game is solved.
    pub success: bool,
    /// The action changed the state.
    pub effective: bool,
}

/// A single-action game played in RAGEN turns.
pub trait Game: Send + Clone + 'static {
    /// Starts a new game from `seed`.
    fn reset(&mut self, seed: u64);
    /// The action names (index = action id), e.g. `Up, Down, Left, Right`.
    fn action_names(&self) -> Vec<Text>;
    /// Applies action `a` (an index into [`Game::action_names`]).
    fn act(&mut self, a: usize) -> Outcome;
    /// Writes the state's text into `out`.
    fn render(&self, out: &mut String);
    /// An optimal plan for the current state: at most `max_len` actions, given `budget`
    /// actions and `turns` turns left in the episode (empty when none helps).
    fn plan(&self, budget: usize, turns: usize, max_len: usize) -> Vec<usize>;
    /// The task's ground truth, if any.
    fn ground_truth(&self) -> Option<Text> {
        None
    }
    /// Task progress of the current state in [0, 1] ([`Info::progress`]), if the game
    /// defines one.
    fn progress(&self) -> Option<f64> {
        None
    }
    /// The subgoal of the current state, if the game has subgoals of its own; a game with
    /// progress but no subgoals gets progress milestones ([`crate::env::milestone`]).
    fn subgoal(&self) -> Option<u32> {
        None
    }
    /// The credit fields its turns give ([`Env::credit_fields`]).
    fn credit_fields(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Turn limits and texts of a RAGEN environment.
#[derive(Debug, Clone)]
pub struct TurnConfig {
    /// RAGEN `max_actions_per_traj` (10).
    pub max_actions: usize,
    /// RAGEN `max_actions_per_turn` (5).
    pub max_actions_per_turn: usize,
    /// RAGEN `max_turn` (5).
    pub max_turns: usize,
    /// Format penalty and whether an all-invalid turn counts (RAGEN: −0.1, counts).
    pub invalid: InvalidPolicy,
    /// The instruction with legend and action list (interned: one copy per distinct text,
    /// shared by every instance).
    pub instructions: &'static str,
}

/// Interns `text`: every distinct instruction text is stored once for the process.
fn intern(text: String) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static POOL: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut pool = POOL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(s) = pool.get(text.as_str()) {
        return s;
    }
    let s: &'static str = Box::leak(text.into_boxed_str());
    pool.insert(s);
    s
}

/// The options every RAGEN environment has.
pub const TURN_OPTIONS: [OptionSpec; 5] = [
    OptionSpec {
        name: "max_actions",
        kind: OptionKind::Int,
        default: "10",
        doc: "RAGEN max_actions_per_traj: action budget of an episode",
    },
    OptionSpec {
        name: "max_actions_per_turn",
        kind: OptionKind::Int,
        default: "5",
        doc: "RAGEN max_actions_per_turn: actions kept from one answer (`a || b || …`)",
    },
    OptionSpec {
        name: "max_turns",
        kind: OptionKind::Int,
        default: "5",
        doc: "RAGEN max_turn: turns per episode",
    },
    OptionSpec {
        name: "invalid_penalty",
        kind: OptionKind::Float,
        default: "-0.1",
        doc: "RAGEN format_penalty: added to a turn with an unknown action or no parsable action",
    },
    OptionSpec {
        name: "invalid_consumes_turn",
        kind: OptionKind::Bool,
        default: "true",
        doc: "whether a turn without any valid action counts towards max_turns (RAGEN: yes)",
    },
];

impl TurnConfig {
    /// Reads the limits from `opts` and builds RAGEN's instruction text: `env_instruction`,
    /// then the symbol legend and the action list (`ctx_manager.py::_init_prefix_lookup`).
    pub fn from_options(
        opts: &Options,
        env_instruction: &str,
        legend: Option<&str>,
        actions: Option<&str>,
    ) -> Result<TurnConfig, EnvError> {
        let max_actions = opts.count("max_actions", 1, 1 << 20)?;
        let mut instructions = env_instruction.to_owned();
        if let Some(l) = legend {
            instructions.push_str("\nThe meaning of each symbol in the state is:\n");
            instructions.push_str(l);
        }
        if let Some(a) = actions {
            instructions.push_str("\nYour available actions are:\n");
            instructions.push_str(a);
            instructions.push_str(&format!(
                "\nYou can make up to {max_actions} actions, separated by the action separator \" || \"\n"
            ));
        }
        Ok(TurnConfig {
            max_actions,
            max_actions_per_turn: opts.count("max_actions_per_turn", 1, 16)?,
            max_turns: opts.count("max_turns", 1, 1 << 20)?,
            invalid: InvalidPolicy::from_options(opts),
            instructions: intern(instructions),
        })
    }
}

/// A game played in RAGEN turns.
#[derive(Clone)]
pub struct Ragen<G: Game> {
    /// The game.
    pub game: G,
    /// Limits and texts.
    pub cfg: TurnConfig,
    actions_used: usize,
    turns: usize,
    done: bool,
    milestones: u32,
    names: Vec<String>,
    buf: String,
}

impl<G: Game> Ragen<G> {
    /// Wraps `game`.
    pub fn new(game: G, cfg: TurnConfig) -> Ragen<G> {
        Ragen {
            game,
            cfg,
            actions_used: 0,
            turns: 0,
            done: true,
            milestones: 0,
            names: Vec::new(),
            buf: String::new(),
        }
    }

    fn text(&mut self) -> (Text, Text) {
        self.buf.clear();
        self.game.render(&mut self.buf);
        (Text::Owned(self.buf.clone()), Text::Owned(self.buf.clone()))
    }

    fn lookup(&self, item: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(item))
    }

    /// The game's progress and subgoal now (milestones reached stay reached).
    fn progress_info(&mut self) -> (Option<f64>, Option<u32>) {
        let p = self.game.progress();
        if let Some(p) = p {
            self.milestones = self.milestones.max(crate::env::milestone(p));
        }
        let sub = self.game.subgoal().or(p.map(|_| self.milestones));
        (p, sub)
    }
}

impl<G: Game> Env for Ragen<G> {
    crate::snapshot_by_clone!();

    fn reset(&mut self, seed: u64) -> Observation {
        self.game.reset(seed);
        self.names = self
            .game
            .action_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        self.actions_used = 0;
        self.turns = 0;
        self.done = false;
        self.milestones = 0;
        let (text, key) = self.text();
        let (progress, subgoal) = self.progress_info();
        Observation {
            text,
            info: Info {
                action_valid: true,
                ground_truth: self.game.ground_truth(),
                state_key: Some(key),
                progress,
                subgoal,
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
        let mut items = 0usize;
        let mut valid = [0usize; 16];
        let mut n_valid = 0usize;
        for item in action.split("||").map(str::trim).filter(|s| !s.is_empty()) {
            if items == self.cfg.max_actions_per_turn {
                break;
            }
            items += 1;
            if let Some(a) = self.lookup(item) {
                if n_valid < valid.len() {
                    valid[n_valid] = a;
                    n_valid += 1;
                }
            }
        }
        let all_valid = items > 0 && n_valid == items;
        let mut reward = if all_valid {
            0.0
        } else {
            self.cfg.invalid.penalty
        };
        if n_valid > 0 || self.cfg.invalid.consumes_turn {
            self.turns += 1;
        }
        let (mut effective, mut success, mut game_over) = (false, false, false);
        let left = self.cfg.max_actions - self.actions_used;
        for &a in &valid[..n_valid.min(left)] {
            let o = self.game.act(a);
            self.actions_used += 1;
            reward += o.reward;
            effective |= o.effective;
            success = o.success;
            if o.done {
                game_over = true;
                break;
            }
        }
        let truncated = !game_over
            && (self.actions_used >= self.cfg.max_actions || self.turns >= self.cfg.max_turns);
        self.done = game_over || truncated;
        let (observation, key) = self.text();
        let (progress, subgoal) = self.progress_info();
        Step {
            observation,
            reward,
            terminated: game_over,
            truncated,
            info: Info {
                success,
                action_valid: all_valid,
                action_effective: effective,
                ground_truth: self.game.ground_truth(),
                state_key: Some(key),
                progress,
                subgoal,
                ..Info::default()
            },
        }
    }

    fn credit_fields(&self) -> &'static [&'static str] {
        self.game.credit_fields()
    }

    fn instructions(&self) -> Text {
        Text::Borrowed(self.cfg.instructions)
    }

    fn budget_left(&self) -> Option<u32> {
        Some((self.cfg.max_actions - self.actions_used) as u32)
    }

    /// The game's optimal plan for the remaining budget, at most `max_actions_per_turn`
    /// actions joined by ` || `.
    fn expert_action(&self) -> Option<String> {
        if self.done {
            return None;
        }
        let plan = self.game.plan(
            self.cfg.max_actions - self.actions_used,
            self.cfg.max_turns.saturating_sub(self.turns),
            self.cfg.max_actions_per_turn,
        );
        let names = self.game.action_names();
        let plan = if plan.is_empty() { vec![0] } else { plan };
        Some(
            plan.iter()
                .map(|&a| names[a].to_string())
                .collect::<Vec<_>>()
                .join(" || "),
        )
    }

    fn action_space(&self) -> Vec<Text> {
        self.game.action_names()
    }
}
