//! Sokoban level generation by reverse playing (spec §2.1; gym-sokoban `room_utils.py` as
//! adapted by RAGEN `ragen/env/sokoban/utils.py`): a random-walk room topology, boxes
//! placed on targets, a depth-first search over reverse moves (the player pulls boxes
//! off their targets) keeping the state with the best `box_swaps × displacement`, then
//! 1–3 random player steps. Same algorithm and constants; the random stream is ChaCha8,
//! so levels differ from gym-sokoban's for the same seed.

use std::collections::HashSet;

use rand::Rng as _;
use turnwise_core::seed::Rng;

/// Cell kinds of the fixed structure.
pub const WALL: u8 = 0;
/// An empty floor cell.
pub const FLOOR: u8 = 1;
/// A box target.
pub const TARGET: u8 = 2;

/// A generated level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
    /// Fixed structure, row-major (`WALL`, `FLOOR`, `TARGET`).
    pub fixed: Vec<u8>,
    /// Box cells.
    pub boxes: Vec<u8>,
    /// Player cell.
    pub player: u8,
}

/// Row/column deltas of up, down, left, right (gym-sokoban `CHANGE_COORDINATES`).
pub const DIRS: [(i32, i32); 4] = [(-1, 0), (1, 0), (0, -1), (0, 1)];

const MASKS: [[[u8; 3]; 3]; 5] = [
    [[0, 0, 0], [1, 1, 1], [0, 0, 0]],
    [[0, 1, 0], [0, 1, 0], [0, 1, 0]],
    [[0, 0, 0], [1, 1, 0], [0, 1, 0]],
    [[0, 0, 0], [1, 1, 0], [1, 1, 0]],
    [[0, 0, 0], [0, 1, 1], [0, 1, 0]],
];

/// `room_topology_generation`: floors carved by a random walk with masks.
fn topology(h: usize, w: usize, steps: usize, rng: &mut Rng) -> Vec<u8> {
    let dirs = [(1i32, 0i32), (0, 1), (-1, 0), (0, -1)];
    let mut dir = dirs[rng.random_range(0..4)];
    let mut pos = (
        rng.random_range(1..=h as i32 - 1),
        rng.random_range(1..=w as i32 - 1),
    );
    let mut level = vec![0u8; h * w];
    for _ in 0..steps {
        if rng.random::<f64>() < 0.35 {
            dir = dirs[rng.random_range(0..4)];
        }
        pos.0 = (pos.0 + dir.0).clamp(1, h as i32 - 2);
        pos.1 = (pos.1 + dir.1).clamp(1, w as i32 - 2);
        let m = &MASKS[rng.random_range(0..MASKS.len())];
        for (dr, row) in m.iter().enumerate() {
            for (dc, v) in row.iter().enumerate() {
                let (r, c) = (pos.0 as usize + dr - 1, pos.1 as usize + dc - 1);
                level[r * w + c] |= v;
            }
        }
    }
    for r in 0..h {
        for c in 0..w {
            if r == 0 || c == 0 || r == h - 1 || c == w - 1 {
                level[r * w + c] = 0;
            }
        }
    }
    level
}

struct Search<'a> {
    fixed: &'a [u8],
    w: i32,
    targets: Vec<u8>,
    explored: HashSet<u64>,
    best_score: i64,
    best: Option<(u8, Vec<u8>)>,
}

fn key(player: u8, boxes: &[u8]) -> u64 {
    let mut s: Vec<u8> = boxes.to_vec();
    s.sort_unstable();
    s.iter().fold(player as u64, |k, b| (k << 8) | *b as u64)
}

fn displacement(w: i32, targets: &[u8], boxes: &[u8]) -> i64 {
    targets
        .iter()
        .zip(boxes)
        .map(|(t, b)| {
            let (t, b) = (*t as i32, *b as i32);
            ((t / w - b / w).abs() + (t % w - b % w).abs()) as i64
        })
        .sum()
}

impl Search<'_> {
    /// `depth_first_search`: boxes[i] is the box that started on targets[i].
    fn dfs(&mut self, player: u8, boxes: &mut Vec<u8>, swaps: i64, last_pull: i32, ttl: i64) {
        let ttl = ttl - 1;
        if ttl <= 0 || self.explored.len() >= 300_000 {
            return;
        }
        if !self.explored.insert(key(player, boxes)) {
            return;
        }
        let empty_targets = self
            .targets
            .iter()
            .filter(|t| !boxes.contains(t) && **t != player)
            .count();
        let score = if empty_targets == self.targets.len() {
            swaps * displacement(self.w, &self.targets, boxes)
        } else {
            0
        };
        if score > self.best_score {
            self.best_score = score;
            self.best = Some((player, boxes.clone()));
        }
        for (dr, dc) in DIRS {
            let d = dr * self.w + dc;
            let next = player as i32 + d;
            if self.fixed[next as usize] == WALL || boxes.contains(&(next as u8)) {
                continue;
            }
            let behind = player as i32 - d;
            let pulled = boxes.iter().position(|b| *b as i32 == behind);
            let saved = boxes.clone();
            let mut lp = last_pull;
            if let Some(i) = pulled {
                boxes[i] = player;
                lp = i as i32;
            }
            let sw = if lp != last_pull { swaps + 1 } else { swaps };
            self.dfs(next as u8, boxes, sw, lp, ttl);
            *boxes = saved;
        }
    }
}

/// One generation attempt (`generate_room` with `tries = 4`); `None` when every try
/// gives a level with zero displacement or too few floor cells.
pub fn try_generate(
    h: usize,
    w: usize,
    num_boxes: usize,
    search_depth: usize,
    rng: &mut Rng,
) -> Option<Level> {
    let steps = (1.7 * (h + w) as f64) as usize;
    for _ in 0..4 {
        let mut room = topology(h, w, steps, rng);
        let floors: Vec<usize> = (0..h * w).filter(|&i| room[i] == 1).collect();
        if floors.len() <= num_boxes + 1 {
            continue;
        }
        let player = floors[rng.random_range(0..floors.len())];
        room[player] = 5;
        let mut targets = Vec::new();
        for _ in 0..num_boxes {
            let free: Vec<usize> = (0..h * w).filter(|&i| room[i] == 1).collect();
            let t = free[rng.random_range(0..free.len())];
            room[t] = 2;
            targets.push(t as u8);
        }
        let fixed: Vec<u8> = room
            .iter()
            .map(|&v| match v {
                0 => WALL,
                2 => TARGET,
                _ => FLOOR,
            })
            .collect();
        let mut s = Search {
            fixed: &fixed,
            w: w as i32,
            targets: targets.clone(),
            explored: HashSet::new(),
            best_score: -1,
            best: None,
        };
        let mut boxes = targets.clone();
        s.dfs(player as u8, &mut boxes, 0, -1, search_depth as i64);
        let Some((p, b)) = s.best else { continue };
        let disp = displacement(w as i32, &targets, &b);
        if disp == 0 {
            continue;
        }
        let mut level = Level {
            h,
            w,
            fixed,
            boxes: b,
            player: p,
        };
        random_player_moves(&mut level, if disp == 1 { 0.8 } else { 0.5 }, rng);
        return Some(level);
    }
    None
}

/// `add_random_player_movement`: with probability `p_move`, 1–3 steps to unvisited free
/// cells, continuing with probability 0.5.
fn random_player_moves(l: &mut Level, p_move: f64, rng: &mut Rng) {
    if rng.random::<f64>() > p_move {
        return;
    }
    let mut visited = vec![l.player];
    for step in 1..=3 {
        let opts: Vec<u8> = DIRS
            .iter()
            .map(|(dr, dc)| (l.player as i32 + dr * l.w as i32 + dc) as u8)
            .filter(|n| {
                l.fixed[*n as usize] != WALL && !l.boxes.contains(n) && !visited.contains(n)
            })
            .collect();
        if opts.is_empty() {
            break;
        }
        l.player = opts[rng.random_range(0..opts.len())];
        visited.push(l.player);
        if step == 3 || rng.random::<f64>() > 0.5 {
            break;
        }
    }
}
