//! Matching predicted tool calls to ground-truth calls (`credit-turn.md` §5): the authors'
//! greedy "KM", a true Kuhn–Munkres (Hungarian) assignment, and Sinkhorn optimal transport.

use pathfinding::kuhn_munkres::{kuhn_munkres, Weights};

/// A row-major `P × G` similarity matrix (borrowed scratch).
#[derive(Debug, Clone, Copy)]
pub struct Sim<'a> {
    /// `S[i·G + j]`.
    pub s: &'a [f64],
    /// Number of predicted calls P (rows).
    pub rows: usize,
    /// Number of ground-truth calls G (columns).
    pub cols: usize,
}

impl Sim<'_> {
    /// `S_ij`.
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.s[i * self.cols + j]
    }
}

/// CODE `compute_process_KM` ("hungarian_assignment" in MatchTIR is greedy): all pairs by
/// S descending, ties in row-major order (stable sort); assign i→j if both are free and
/// `S_ij > 0`. `assign[i]` = matched column. `pairs` is reused scratch.
pub fn greedy(sim: Sim<'_>, pairs: &mut Vec<(f64, u32, u32)>, assign: &mut [Option<u32>]) {
    assign.iter_mut().for_each(|a| *a = None);
    pairs.clear();
    for i in 0..sim.rows {
        for j in 0..sim.cols {
            let s = sim.at(i, j);
            if s > 0.0 {
                pairs.push((s, i as u32, j as u32));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    // a column is used once it is matched; at most 64 columns fit in the bit set, more
    // fall back to a vector
    let mut used_bits = 0u64;
    let mut used_vec = vec![false; if sim.cols > 64 { sim.cols } else { 0 }];
    let mut take = |j: usize| -> bool {
        if j < 64 && used_vec.is_empty() {
            let was = used_bits >> j & 1 == 1;
            used_bits |= 1 << j;
            !was
        } else {
            !std::mem::replace(&mut used_vec[j], true)
        }
    };
    for &(_, i, j) in pairs.iter() {
        if assign[i as usize].is_none() && take(j as usize) {
            assign[i as usize] = Some(j);
        }
    }
}

/// Similarities as integers for [`kuhn_munkres`] (which needs an `Ord` weight): `S · 2⁴⁰`,
/// rounded. Two assignments whose float totals differ by less than `P · 2⁻⁴⁰` may swap;
/// that is below the vectors' tolerance.
const SCALE: f64 = (1u64 << 40) as f64;

/// The matrix seen with rows ≤ columns, as `kuhn_munkres` requires.
struct Oriented<'a> {
    sim: Sim<'a>,
    transposed: bool,
}

impl Weights<i64> for Oriented<'_> {
    fn rows(&self) -> usize {
        if self.transposed {
            self.sim.cols
        } else {
            self.sim.rows
        }
    }
    fn columns(&self) -> usize {
        if self.transposed {
            self.sim.rows
        } else {
            self.sim.cols
        }
    }
    fn at(&self, r: usize, c: usize) -> i64 {
        let s = if self.transposed {
            self.sim.at(c, r)
        } else {
            self.sim.at(r, c)
        };
        (s * SCALE).round() as i64
    }
    fn neg(&self) -> Self {
        unreachable!("kuhn_munkres maximises; negation is never requested")
    }
}

/// True Kuhn–Munkres (the paper's wording; reference `assignment="hungarian"`): a
/// maximum-total-similarity matching of size min(P, G) (`pathfinding::kuhn_munkres`);
/// pairs with zero similarity are then left unmatched.
pub fn hungarian(sim: Sim<'_>, assign: &mut [Option<u32>]) {
    assign.iter_mut().for_each(|a| *a = None);
    if sim.rows == 0 || sim.cols == 0 {
        return;
    }
    let w = Oriented {
        sim,
        transposed: sim.rows > sim.cols,
    };
    let (_, m) = kuhn_munkres(&w);
    for (r, c) in m.into_iter().enumerate() {
        let (i, j) = if w.transposed { (c, r) } else { (r, c) };
        if sim.at(i, j) > 0.0 {
            assign[i] = Some(j as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_largest_first_and_hungarian_the_best_total() {
        // greedy: 0.75 + 0.11 = 0.86; optimum: 0.55 + 0.5 = 1.05.
        let s = [0.75, 0.55, 0.5, 0.11];
        let sim = Sim {
            s: &s,
            rows: 2,
            cols: 2,
        };
        let mut a = [None; 2];
        greedy(sim, &mut Vec::new(), &mut a);
        assert_eq!(a, [Some(0), Some(1)]);
        hungarian(sim, &mut a);
        assert_eq!(a, [Some(1), Some(0)]);
    }

    #[test]
    fn zero_pairs_stay_unmatched_and_more_rows_than_columns_work() {
        let s = [0.0, 0.4, 0.0, 0.9];
        let sim = Sim {
            s: &s,
            rows: 4,
            cols: 1,
        };
        let mut a = [None; 4];
        hungarian(sim, &mut a);
        assert_eq!(a, [None, None, None, Some(0)]);
    }
}
