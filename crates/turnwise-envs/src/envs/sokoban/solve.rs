//! Breadth-first Sokoban solver: the shortest push/move sequence to put every box on a
//! target (the expert of `ragen/sokoban`; RAGEN's `get_shortest_action_path` is also BFS).

use std::collections::{HashMap, VecDeque};

use super::gen::{DIRS, WALL};

/// Most states the solver explores before giving up.
pub const MAX_STATES: usize = 2_000_000;

fn pack(player: u8, boxes: &[u8]) -> u64 {
    let mut s = [0u8; 7];
    s[..boxes.len()].copy_from_slice(boxes);
    s[..boxes.len()].sort_unstable();
    s[..boxes.len()]
        .iter()
        .fold(player as u64, |k, b| (k << 8) | *b as u64)
}

/// The shortest action sequence (indices into up, down, left, right) from `player` and
/// `boxes` to all boxes on targets, or `None` if none exists within [`MAX_STATES`].
pub fn shortest(
    fixed: &[u8],
    w: usize,
    targets: &[u8],
    player: u8,
    boxes: &[u8],
) -> Option<Vec<usize>> {
    let solved = |b: &[u8]| b.iter().all(|x| targets.contains(x));
    if solved(boxes) {
        return Some(vec![]);
    }
    let mut parent: HashMap<u64, (u64, u8)> = HashMap::new();
    let start = pack(player, boxes);
    parent.insert(start, (start, 255));
    let mut q = VecDeque::from([(player, boxes.to_vec())]);
    while let Some((p, b)) = q.pop_front() {
        let k = pack(p, &b);
        for (a, (dr, dc)) in DIRS.iter().enumerate() {
            let d = dr * w as i32 + dc;
            let n = (p as i32 + d) as usize;
            if fixed[n] == WALL {
                continue;
            }
            let mut nb = b.clone();
            if let Some(i) = b.iter().position(|x| *x as usize == n) {
                let beyond = (n as i32 + d) as usize;
                if fixed[beyond] == WALL || b.contains(&(beyond as u8)) {
                    continue;
                }
                nb[i] = beyond as u8;
            }
            let nk = pack(n as u8, &nb);
            if parent.contains_key(&nk) {
                continue;
            }
            parent.insert(nk, (k, a as u8));
            if solved(&nb) {
                let mut path = vec![];
                let mut cur = nk;
                while cur != start {
                    let (prev, a) = parent[&cur];
                    path.push(a as usize);
                    cur = prev;
                }
                path.reverse();
                return Some(path);
            }
            if parent.len() >= MAX_STATES {
                return None;
            }
            q.push_back((n as u8, nb));
        }
    }
    None
}
