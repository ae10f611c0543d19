//! LMRL-Gym Maze, fully and partially observed (spec §1.1; LMRL `mazes.py: double_t_maze`,
//! `env.py: MazeEnv`, `describe_observation_give_position`, `describe_observation_only_walls`,
//! `standard_reward`). Texts, rewards and step order are exact; only the random choice
//! of the start cell uses turnwise's ChaCha8 stream instead of Python's `random`.
//!
//! Every observation is precomputed once per cell (26 cells), so a step allocates nothing.

use std::collections::VecDeque;
use std::sync::OnceLock;

use rand::Rng as _;

use crate::env::{Env, Info, Observation, Step, Text};
use crate::error::EnvError;
use crate::options::{InvalidPolicy, OptionKind, OptionSpec, Options};
use crate::registry::EnvSpec;
use crate::seeding::episode_rng;

/// The double-T maze of LMRL-Gym (10 rows × 13 columns), `G` = goal.
pub const LAYOUT: [&str; 10] = [
    "#############",
    "#.....#.....#",
    "###.#####.###",
    "###.#####.###",
    "###.#####.###",
    "###.......###",
    "######.######",
    "######.######",
    "######G######",
    "#############",
];
/// Rows of the maze.
pub const ROWS: usize = 10;
/// Columns of the maze.
pub const COLS: usize = 13;
/// The goal cell (row 8, column 6).
pub const GOAL: (usize, usize) = (8, 6);

/// The four actions, in LMRL's `manhatten_actions` order, with their (row, col) deltas.
pub const ACTIONS: [(&str, (i32, i32)); 4] = [
    ("move left", (0, -1)),
    ("move right", (0, 1)),
    ("move up", (-1, 0)),
    ("move down", (1, 0)),
];
const ACTION_TEXTS: [&str; 4] = ["move left", "move right", "move up", "move down"];

/// The wall phrases in LMRL's order (right, left, above, below).
const WALL_DIRS: [(&str, (i32, i32)); 4] = [
    ("to your right", (0, 1)),
    ("to your left", (0, -1)),
    ("above you", (-1, 0)),
    ("below you", (1, 0)),
];

/// Whether (row, col) is a wall.
pub fn is_wall(r: usize, c: usize) -> bool {
    LAYOUT[r].as_bytes()[c] == b'#'
}

/// The free cells in row-major order (`np.argwhere(maze == 0)`), goal included.
pub fn free_cells() -> Vec<(usize, usize)> {
    (0..ROWS)
        .flat_map(|r| (0..COLS).map(move |c| (r, c)))
        .filter(|&(r, c)| !is_wall(r, c))
        .collect()
}

/// The 25 evaluation start cells: every free cell except the goal, row-major (LMRL
/// evaluates with `env_options={"init_position": p}` for each).
pub fn eval_starts() -> Vec<(usize, usize)> {
    free_cells().into_iter().filter(|&p| p != GOAL).collect()
}

/// LMRL prints a coordinate as `' '.join(str(n))`: 10 becomes `"1 0"`.
fn digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

/// `describe_objects("wall", walls)`.
fn wall_sentence(r: usize, c: usize) -> String {
    let walls: Vec<&str> = WALL_DIRS
        .iter()
        .filter(|(_, (dr, dc))| is_wall((r as i32 + dr) as usize, (c as i32 + dc) as usize))
        .map(|(p, _)| *p)
        .collect();
    match walls.len() {
        0 => "There are no walls near you.".to_owned(),
        1 => format!("There is a wall {}.", walls[0]),
        _ => format!("There are walls {}.", walls.join(", ")),
    }
}

/// The fully observed text of cell (r, c) (`describe_observation_give_position`).
pub fn describe_fo(r: usize, c: usize) -> String {
    format!(
        "The goal is at position {}, {}. Your current position is at position {}, {}. {}\n",
        digits(GOAL.0),
        digits(GOAL.1),
        digits(r),
        digits(c),
        wall_sentence(r, c)
    )
}

/// The partially observed text of cell (r, c) (`describe_observation_only_walls`).
pub fn describe_po(r: usize, c: usize) -> String {
    format!("{}\n", wall_sentence(r, c))
}

/// Precomputed per-cell texts: FO observation, PO observation, state key.
struct Tables {
    fo: Vec<&'static str>,
    po: Vec<&'static str>,
    key: Vec<&'static str>,
    /// BFS distance to the goal, per cell (`u8::MAX` for walls).
    dist: Vec<u8>,
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let n = ROWS * COLS;
        let mut t = Tables {
            fo: vec![""; n],
            po: vec![""; n],
            key: vec![""; n],
            dist: vec![u8::MAX; n],
        };
        for (r, c) in free_cells() {
            t.fo[r * COLS + c] = leak(describe_fo(r, c));
            t.po[r * COLS + c] = leak(describe_po(r, c));
            t.key[r * COLS + c] = leak(format!("{r},{c}"));
        }
        let mut q = VecDeque::from([GOAL]);
        t.dist[GOAL.0 * COLS + GOAL.1] = 0;
        while let Some((r, c)) = q.pop_front() {
            let d = t.dist[r * COLS + c];
            for (_, (dr, dc)) in ACTIONS {
                let (nr, nc) = ((r as i32 + dr) as usize, (c as i32 + dc) as usize);
                if !is_wall(nr, nc) && t.dist[nr * COLS + nc] == u8::MAX {
                    t.dist[nr * COLS + nc] = d + 1;
                    q.push_back((nr, nc));
                }
            }
        }
        t
    })
}

/// The BFS distance (number of moves) from (r, c) to the goal.
pub fn distance_to_goal(r: usize, c: usize) -> Option<u32> {
    let d = tables().dist[r * COLS + c];
    (d != u8::MAX).then_some(d as u32)
}

/// The LMRL maze environment. A few bytes of state plus configuration; no heap.
#[derive(Debug, Clone)]
pub struct Maze {
    /// Fully observed (position shown) or partially observed (walls only).
    pub fully_observed: bool,
    /// LMRL `max_steps` (100).
    pub max_steps: u32,
    /// Invalid-action policy (LMRL: −4, counts as a step).
    pub invalid: InvalidPolicy,
    /// Fixed start cell (LMRL `init_position`), or random.
    pub start: Option<(u8, u8)>,
    pos: u8,
    steps: u32,
    done: bool,
    /// BFS distance of the start cell (the progress measure's denominator).
    start_dist: u8,
    /// Progress milestones reached so far (the subgoal id).
    milestones: u8,
}

/// Task progress of a cell at BFS distance `d` from the goal, for an episode that
/// started at distance `d0`: the fraction of the start distance covered,
/// `max(0, 1 − d/d0)` (1 at the goal, 0 at the start or farther away).
pub fn progress(d: u32, d0: u32) -> f64 {
    if d0 == 0 {
        return 1.0;
    }
    (1.0 - d as f64 / d0 as f64).max(0.0)
}

impl Maze {
    /// A maze with LMRL's settings.
    pub fn new(fully_observed: bool) -> Maze {
        Maze {
            fully_observed,
            max_steps: 100,
            invalid: InvalidPolicy {
                penalty: -4.0,
                consumes_turn: true,
            },
            start: None,
            pos: 0,
            steps: 0,
            done: true,
            start_dist: 0,
            milestones: 0,
        }
    }

    /// The current cell (row, column).
    pub fn position(&self) -> (usize, usize) {
        (self.pos as usize / COLS, self.pos as usize % COLS)
    }

    fn text(&self) -> &'static str {
        let t = tables();
        if self.fully_observed {
            t.fo[self.pos as usize]
        } else {
            t.po[self.pos as usize]
        }
    }

    fn info(&mut self, valid: bool, effective: bool, success: bool) -> Info {
        let (r, c) = self.position();
        let p = progress(
            distance_to_goal(r, c).unwrap_or(self.start_dist as u32),
            self.start_dist as u32,
        );
        // A subgoal is reaching the next quarter of the start distance; milestones once
        // reached stay reached.
        self.milestones = self.milestones.max(crate::env::milestone(p) as u8);
        Info {
            success,
            action_valid: valid,
            action_effective: effective,
            ground_truth: None,
            state_key: Some(Text::Borrowed(tables().key[self.pos as usize])),
            progress: Some(p),
            subgoal: Some(self.milestones as u32),
            ..Info::default()
        }
    }
}

fn parse_start(opts: &Options) -> Result<Option<(u8, u8)>, EnvError> {
    let s = opts.str("start");
    if s == "random" {
        return Ok(None);
    }
    let bad = || opts.bad("start", s, "`random` or ROW,COL of a free non-goal cell");
    let (r, c) = s.split_once(',').ok_or_else(bad)?;
    let r: usize = r.trim().parse().map_err(|_| bad())?;
    let c: usize = c.trim().parse().map_err(|_| bad())?;
    if !eval_starts().contains(&(r, c)) {
        return Err(bad());
    }
    Ok(Some((r as u8, c as u8)))
}

fn make(opts: &Options, fully_observed: bool) -> Result<Box<dyn Env>, EnvError> {
    let mut m = Maze::new(fully_observed);
    m.max_steps = opts.count("max_steps", 0, 1 << 30)? as u32;
    m.invalid = InvalidPolicy::from_options(opts);
    m.start = parse_start(opts)?;
    Ok(Box::new(m))
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "start",
        kind: OptionKind::Str,
        default: "random",
        doc: "start cell ROW,COL (LMRL init_position), or `random` (uniform over the 25 non-goal cells)",
    },
    OptionSpec {
        name: "max_steps",
        kind: OptionKind::Int,
        default: "100",
        doc: "LMRL max_steps; the step after the limit returns `Failure` with reward -1 (truncated)",
    },
    OptionSpec {
        name: "invalid_penalty",
        kind: OptionKind::Float,
        default: "-4",
        doc: "reward of an action other than the four moves (LMRL standard_reward: -4)",
    },
    OptionSpec {
        name: "invalid_consumes_turn",
        kind: OptionKind::Bool,
        default: "true",
        doc: "whether an invalid action advances the step counter (LMRL: yes)",
    },
];

/// `lmrl/maze-fo`: the fully observed double-T maze.
pub static FO: EnvSpec = EnvSpec {
    name: "lmrl/maze-fo",
    doc: "LMRL-Gym Maze, fully observed (double-T, 25 starts, goal 8,6). Exact texts and rewards: -1 per step, 0 at the goal, -4 invalid, `Failure` after 100 steps.",
    options: OPTIONS,
    make: |o| make(o, true),
};

/// `lmrl/maze-po`: the partially observed double-T maze (walls only).
pub static PO: EnvSpec = EnvSpec {
    name: "lmrl/maze-po",
    doc: "LMRL-Gym Maze, partially observed: only the wall sentence is shown; position must be inferred from the history (LMRL GPT-4 PO kept 20 text items: history mode last-10).",
    options: OPTIONS,
    make: |o| make(o, false),
};

impl Env for Maze {
    crate::snapshot_by_clone!();

    fn reset(&mut self, seed: u64) -> Observation {
        let (r, c) = match self.start {
            Some((r, c)) => (r as usize, c as usize),
            None => {
                let starts = eval_starts();
                let mut rng = episode_rng(
                    if self.fully_observed {
                        FO.name
                    } else {
                        PO.name
                    },
                    seed,
                );
                starts[rng.random_range(0..starts.len())]
            }
        };
        self.pos = (r * COLS + c) as u8;
        self.steps = 0;
        self.done = false;
        self.start_dist = distance_to_goal(r, c).unwrap_or(0) as u8;
        self.milestones = 0;
        Observation {
            text: Text::Borrowed(self.text()),
            info: self.info(true, false, false),
        }
    }

    fn step(&mut self, action: &str) -> Step {
        if self.done {
            return Step {
                observation: Text::Borrowed(""),
                terminated: true,
                info: self.info(false, false, false),
                ..Step::default()
            };
        }
        // 1. LMRL checks the limit before looking at the action.
        if self.steps >= self.max_steps {
            self.done = true;
            return Step {
                observation: Text::Borrowed("Failure\n"),
                reward: -1.0,
                terminated: false,
                truncated: true,
                info: self.info(false, false, false),
            };
        }
        // 2. Apply the action.
        let delta = match action {
            "move left" => Some((0i32, -1i32)),
            "move right" => Some((0, 1)),
            "move up" => Some((-1, 0)),
            "move down" => Some((1, 0)),
            _ => None,
        };
        let before = self.pos;
        if let Some((dr, dc)) = delta {
            let (r, c) = self.position();
            let (nr, nc) = ((r as i32 + dr) as usize, (c as i32 + dc) as usize);
            if !is_wall(nr, nc) {
                self.pos = (nr * COLS + nc) as u8;
            }
        }
        let valid = delta.is_some();
        let effective = self.pos != before;
        // 3. Reward from the new position.
        if self.position() == GOAL {
            self.done = true;
            return Step {
                observation: Text::Borrowed("Success\n"),
                reward: 0.0,
                terminated: true,
                truncated: false,
                info: self.info(valid, effective, true),
            };
        }
        let reward = if valid { -1.0 } else { self.invalid.penalty };
        // 4. Advance the counter and describe.
        if valid || self.invalid.consumes_turn {
            self.steps += 1;
        }
        Step {
            observation: Text::Borrowed(self.text()),
            reward,
            terminated: false,
            truncated: false,
            info: self.info(valid, effective, false),
        }
    }

    fn stop(&self) -> Option<&'static str> {
        Some("\n")
    }

    /// `score`: [`progress`] of the cell after the step; `subgoal`: progress milestones
    /// reached (a new subgoal starts at each quarter of the start distance).
    fn credit_fields(&self) -> &'static [&'static str] {
        &["score", "subgoal", "switch"]
    }

    /// BFS: the first action (LMRL order) that decreases the distance to the goal.
    fn expert_action(&self) -> Option<String> {
        if self.done {
            return None;
        }
        let (r, c) = self.position();
        let d = distance_to_goal(r, c)?;
        ACTIONS
            .iter()
            .find(|(_, (dr, dc))| {
                distance_to_goal((r as i32 + dr) as usize, (c as i32 + dc) as usize)
                    == Some(d.wrapping_sub(1))
            })
            .map(|(a, _)| (*a).to_owned())
    }

    fn action_space(&self) -> Vec<Text> {
        ACTION_TEXTS.iter().map(|a| Text::Borrowed(*a)).collect()
    }
}
