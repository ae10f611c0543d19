//! Statistics per turn index over the trajectories of one group: the "turn group"
//! pools of A²TGPO (`credit-turn.md` §2) and MatchTIR's per-turn-index z-score (§5).

use crate::output::TurnValues;

/// Which standard deviation a pool uses (`credit-turn.md` §0.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdKind {
    /// `std_igpo`: `sqrt(mean sq. dev. + 1e−8)`, 1 for pools of ≤ 1.
    Igpo,
    /// Bessel-corrected; `NaN` for pools of ≤ 1 (the caller decides).
    Unbiased,
}

/// Mean, std and count per turn index; the buffers are reused between groups.
#[derive(Debug, Clone, Default)]
pub struct IndexStats {
    acc: Vec<(f64, f64, usize)>,
}

impl IndexStats {
    /// Pools value `k` of every trajectory `i ∈ trajs` with `k < take(i)` under index `k`,
    /// two-pass.
    pub fn compute(
        &mut self,
        values: &TurnValues,
        trajs: std::ops::Range<usize>,
        take: impl Fn(usize) -> usize,
        kind: StdKind,
    ) {
        self.acc.iter_mut().for_each(|s| *s = (0.0, 0.0, 0));
        for i in trajs.clone() {
            let v = &values.traj(i)[..take(i)];
            if self.acc.len() < v.len() {
                self.acc.resize(v.len(), (0.0, 0.0, 0));
            }
            for (s, &x) in self.acc.iter_mut().zip(v) {
                s.0 += x;
                s.2 += 1;
            }
        }
        for s in self.acc.iter_mut().filter(|s| s.2 > 0) {
            s.0 /= s.2 as f64;
        }
        for i in trajs {
            let v = &values.traj(i)[..take(i)];
            for (s, &x) in self.acc.iter_mut().zip(v) {
                s.1 += (x - s.0) * (x - s.0);
            }
        }
        for s in self.acc.iter_mut() {
            s.1 = match (kind, s.2) {
                (StdKind::Igpo, 0 | 1) => 1.0,
                (StdKind::Igpo, n) => (s.1 / n as f64 + 1e-8).sqrt(),
                (StdKind::Unbiased, 0 | 1) => f64::NAN,
                (StdKind::Unbiased, n) => (s.1 / (n - 1) as f64).sqrt(),
            };
        }
    }

    /// `(mean, std, count)` of turn index `k`.
    #[inline]
    pub fn get(&self, k: usize) -> (f64, f64, usize) {
        self.acc.get(k).copied().unwrap_or((0.0, f64::NAN, 0))
    }
}
