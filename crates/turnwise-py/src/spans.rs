//! Turns inside token rows (no Python here): verl, SkyRL and TRL hold one row of tokens
//! per trajectory with a mask that is 1 on the policy's tokens and 0 on environment, tool
//! and padding tokens. Each maximal run of 1s is one turn. Per-turn values go back onto
//! the turn's tokens.
//!
//! Everything works on the frameworks' own arrays, whatever their element types (masks of
//! `int64`, `bool`, …; rewards and outputs of `float32` or `float64`): one pass over the
//! mask and the rewards finds the turns and sums the rewards ([`Spans::scan`]), one pass
//! writes the output rows ([`Spans::write_turns`]). Runs of unchanged mask without rewards
//! are skipped a block at a time, so the work per token is a few vector instructions.

/// A mask element: on (a policy token) when nonzero.
pub trait Flag: Copy + Send + Sync {
    /// Whether the token belongs to the policy.
    fn on(self) -> bool;
}

macro_rules! flag_ints {
    ($($t:ty),*) => {$(impl Flag for $t {
        #[inline(always)]
        fn on(self) -> bool {
            self != 0
        }
    })*};
}
flag_ints!(i8, i16, i32, i64, u8, u16, u32, u64);

impl Flag for bool {
    #[inline(always)]
    fn on(self) -> bool {
        self
    }
}

impl Flag for f32 {
    #[inline(always)]
    fn on(self) -> bool {
        self != 0.0
    }
}

impl Flag for f64 {
    #[inline(always)]
    fn on(self) -> bool {
        self != 0.0
    }
}

/// A floating-point element of token rewards or advantages (`f32` or `f64`); sums and
/// methods run in `f64`.
pub trait Real: Copy + Send + Sync + PartialEq {
    /// Zero.
    const ZERO: Self;
    /// As `f64`.
    fn to_f64(self) -> f64;
    /// From `f64` (rounded to nearest for `f32`).
    fn from_f64(x: f64) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
}

/// Tokens per block of the block skip in [`Spans::scan`].
const BLOCK: usize = 16;

/// The turns of a `rows × cols` token batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spans {
    /// Columns of the token rows.
    pub cols: usize,
    /// `traj_offsets[r]..traj_offsets[r + 1]` are row `r`'s turns.
    pub traj_offsets: Vec<usize>,
    /// First token (column) of each turn.
    pub start: Vec<usize>,
    /// One past the last token of each turn.
    pub end: Vec<usize>,
}

/// What [`Spans::scan`] reads off the token rewards.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSums {
    /// Per turn (when asked for): the sum of the token rewards from the turn's first
    /// token up to the next turn (rewards before a row's first turn count for it).
    pub turn: Vec<f64>,
    /// Per row: the sum of its token rewards (verl's sequence score).
    pub outcome: Vec<f64>,
}

/// Turn boundaries and reward sums of one row, appended to the batch's vectors.
struct RowScan<'a> {
    start: &'a mut Vec<usize>,
    end: &'a mut Vec<usize>,
    turn: Option<&'a mut Vec<f64>>,
    inside: bool,
    in_turn: bool,
    acc: f64,
    total: f64,
}

impl RowScan<'_> {
    /// Token `c` (mask `on`, reward `x`).
    #[inline(always)]
    fn token(&mut self, c: usize, on: bool, x: f64) {
        if on != self.inside {
            if on {
                if self.in_turn {
                    if let Some(t) = self.turn.as_deref_mut() {
                        t.push(self.acc);
                    }
                    self.acc = 0.0;
                }
                self.in_turn = true;
                self.start.push(c);
            } else {
                self.end.push(c);
            }
            self.inside = on;
        }
        // zeros are skipped: adding ±0 to a sum that starts at +0 never changes it
        if x != 0.0 {
            self.acc += x;
            self.total += x;
        }
    }

    /// Closes the row of `cols` tokens; returns its outcome.
    fn finish(mut self, cols: usize) -> f64 {
        if self.inside {
            self.end.push(cols);
        }
        if self.in_turn {
            if let Some(t) = self.turn.as_deref_mut() {
                t.push(self.acc);
            }
        }
        self.total
    }
}

impl Spans {
    fn empty(rows: usize, cols: usize) -> Spans {
        let mut traj_offsets = Vec::with_capacity(rows + 1);
        traj_offsets.push(0);
        Spans {
            cols,
            traj_offsets,
            start: Vec::new(),
            end: Vec::new(),
        }
    }

    /// The runs of on-tokens of `mask` (`rows × cols`, row-major), row by row.
    pub fn of<M: Flag>(mask: &[M], rows: usize, cols: usize) -> Spans {
        let zeros = vec![0.0f64; cols.min(BLOCK * 64)];
        let mut s = Spans::empty(rows, cols);
        for r in 0..rows {
            let row = &mask[r * cols..(r + 1) * cols];
            let mut scan = s.row_scan(None);
            for (k, chunk) in row.chunks(zeros.len().max(1)).enumerate() {
                scan_block(&mut scan, k * zeros.len(), chunk, &zeros[..chunk.len()]);
            }
            scan.finish(cols);
            s.traj_offsets.push(s.start.len());
        }
        s
    }

    /// One pass over `mask` and `rewards` (both `rows × cols`, row-major): the turns, the
    /// rows' outcomes and (when `turn_rewards`) the turns' rewards ([`RowSums`]).
    /// `Err(i)`: `rewards[i]` is not finite.
    pub fn scan<M: Flag, R: Real>(
        mask: &[M],
        rewards: &[R],
        rows: usize,
        cols: usize,
        turn_rewards: bool,
    ) -> Result<(Spans, RowSums), usize> {
        let mut s = Spans::empty(rows, cols);
        let mut sums = RowSums {
            turn: Vec::new(),
            outcome: Vec::with_capacity(rows),
        };
        for r in 0..rows {
            let (m, x) = (
                &mask[r * cols..(r + 1) * cols],
                &rewards[r * cols..(r + 1) * cols],
            );
            let mut scan = s.row_scan(turn_rewards.then_some(&mut sums.turn));
            scan_block(&mut scan, 0, m, x);
            let total = scan.finish(cols);
            if !total.is_finite() {
                let c = x.iter().position(|v| !v.to_f64().is_finite());
                // a finite row whose sum overflows is reported at its last token
                return Err(r * cols + c.unwrap_or(cols.saturating_sub(1)));
            }
            sums.outcome.push(total);
            s.traj_offsets.push(s.start.len());
        }
        Ok((s, sums))
    }

    fn row_scan<'a>(&'a mut self, turn: Option<&'a mut Vec<f64>>) -> RowScan<'a> {
        RowScan {
            start: &mut self.start,
            end: &mut self.end,
            turn,
            inside: false,
            in_turn: false,
            acc: 0.0,
            total: 0.0,
        }
    }

    /// Number of rows (trajectories).
    pub fn rows(&self) -> usize {
        self.traj_offsets.len() - 1
    }

    /// Number of turns.
    pub fn turns(&self) -> usize {
        self.start.len()
    }

    /// Tokens of each turn.
    pub fn lengths(&self) -> Vec<i64> {
        self.start
            .iter()
            .zip(&self.end)
            .map(|(a, b)| (b - a) as i64)
            .collect()
    }

    /// Row-major `rows × cols` values: `value(t)` on turn `t`'s tokens (a slice of the
    /// turn's length), 0 elsewhere; every element written once.
    fn write<T: Real, E>(
        &self,
        mut fill: impl FnMut(usize, &mut Vec<T>) -> Result<(), E>,
    ) -> Result<Vec<T>, E> {
        let mut out = Vec::with_capacity(self.rows() * self.cols);
        for r in 0..self.rows() {
            let base = out.len();
            for t in self.traj_offsets[r]..self.traj_offsets[r + 1] {
                out.resize(base + self.start[t], T::ZERO);
                fill(t, &mut out)?;
            }
            out.resize(base + self.cols, T::ZERO);
        }
        Ok(out)
    }

    /// One value per turn on each of the turn's tokens, 0 elsewhere (row-major).
    pub fn write_turns<T: Real>(&self, per_turn: &[f64]) -> Vec<T> {
        let done: Result<_, ()> = self.write(|t, out| {
            let v = T::from_f64(per_turn[t]);
            out.resize(out.len() + self.end[t] - self.start[t], v);
            Ok(())
        });
        done.unwrap_or_default()
    }

    /// One value per turn on the turn's last token, 0 elsewhere (row-major): where a
    /// reward manager puts per-turn rewards so that [`Spans::scan`] reads them back.
    pub fn write_ends<T: Real>(&self, per_turn: &[f64]) -> Vec<T> {
        let done: Result<_, ()> = self.write(|t, out| {
            out.resize(out.len() + self.end[t] - self.start[t] - 1, T::ZERO);
            out.push(T::from_f64(per_turn[t]));
            Ok(())
        });
        done.unwrap_or_default()
    }

    /// Per-token values (a list per turn, flat with `offsets`) on the turns' tokens;
    /// `Err(turn)` names the first turn whose list length is not its token count.
    pub fn write_tokens<T: Real>(
        &self,
        values: &[f64],
        offsets: &[usize],
    ) -> Result<Vec<T>, usize> {
        self.write(|t, out| {
            let v = &values[offsets[t]..offsets[t + 1]];
            if v.len() != self.end[t] - self.start[t] {
                return Err(t);
            }
            out.extend(v.iter().map(|&x| T::from_f64(x)));
            Ok(())
        })
    }
}

/// Scans tokens `c0..c0 + mask.len()` of a row. Blocks of [`BLOCK`] tokens whose mask
/// agrees with the current state and whose rewards are all zero change nothing and are
/// skipped after a branch-free test (which the compiler vectorises).
#[inline(always)]
fn scan_block<M: Flag, R: Real>(scan: &mut RowScan<'_>, c0: usize, mask: &[M], rewards: &[R]) {
    let (mc, rc) = (mask.chunks_exact(BLOCK), rewards.chunks_exact(BLOCK));
    let tail = mc.remainder().len();
    for (k, (m, x)) in mc.zip(rc).enumerate() {
        let on = m.iter().fold(0u32, |a, &v| a + u32::from(v.on()));
        let nonzero = x.iter().fold(false, |a, &v| a | (v != R::ZERO));
        let same = if scan.inside {
            on == BLOCK as u32
        } else {
            on == 0
        };
        if same && !nonzero {
            continue;
        }
        for (i, (&v, &y)) in m.iter().zip(x).enumerate() {
            scan.token(c0 + k * BLOCK + i, v.on(), y.to_f64());
        }
    }
    let at = mask.len() - tail;
    for (i, (&v, &y)) in mask[at..].iter().zip(&rewards[at..]).enumerate() {
        scan.token(c0 + at + i, v.on(), y.to_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, token by token: turns are runs of on-tokens; a turn's reward runs
    /// from its first token (0 for a row's first turn) to the next turn's first token.
    fn reference(mask: &[i64], rewards: &[f64], cols: usize) -> (Spans, RowSums) {
        let rows = mask.len() / cols;
        let mut s = Spans::empty(rows, cols);
        let mut sums = RowSums {
            turn: vec![],
            outcome: vec![],
        };
        for r in 0..rows {
            let (m, x) = (&mask[r * cols..][..cols], &rewards[r * cols..][..cols]);
            let first = s.start.len();
            for c in 0..cols {
                if m[c] != 0 && (c == 0 || m[c - 1] == 0) {
                    s.start.push(c);
                }
                if m[c] != 0 && (c + 1 == cols || m[c + 1] == 0) {
                    s.end.push(c + 1);
                }
            }
            let n = s.start.len();
            for t in first..n {
                let lo = if t == first { 0 } else { s.start[t] };
                let hi = if t + 1 == n { cols } else { s.start[t + 1] };
                sums.turn.push(x[lo..hi].iter().sum());
            }
            sums.outcome.push(x.iter().sum());
            s.traj_offsets.push(n);
        }
        (s, sums)
    }

    #[test]
    fn runs_of_ones_are_turns() {
        let mask = [
            1, 1, 0, 0, 1, 0, /* row 2 */ 0, 0, 0, 0, 0, 0, /* row 3 */ 0, 1, 1, 1, 1, 1,
        ];
        let s = Spans::of(&mask, mask.len() / 6, 6);
        assert_eq!(s.traj_offsets, vec![0, 2, 2, 3]);
        assert_eq!(s.start, vec![0, 4, 1]);
        assert_eq!(s.end, vec![2, 5, 6]);
        assert_eq!(s.lengths(), vec![2, 1, 5]);
    }

    #[test]
    fn rewards_follow_their_turn_and_sum_to_the_outcome() {
        let mask = [0, 1, 1, 0, 1, 0];
        let rewards = [0.5f32, 0.0, 1.0, 2.0, 0.0, 4.0];
        let (s, sums) = Spans::scan(&mask, &rewards, 1, 6, true).unwrap();
        assert_eq!(s, Spans::of(&mask, 1, 6));
        assert_eq!(sums.turn, vec![3.5, 4.0]);
        assert_eq!(sums.outcome, vec![7.5]);
        let (_, sums) = Spans::scan(&mask, &rewards, 1, 6, false).unwrap();
        assert!(sums.turn.is_empty());
        let bad = [0.0, 0.0, 1.0, f64::NAN, 0.0, 0.0];
        assert_eq!(Spans::scan(&mask, &bad, 1, 6, true).unwrap_err(), 3);
    }

    #[test]
    fn block_skip_equals_the_definition() {
        // long runs (blocks skipped), short runs, rewards inside and between turns, padding
        let mut state = 0x2545f4914f6cdd1du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for cols in [1, 15, 16, 17, 50, 203] {
            let rows = 9;
            let (mut mask, mut rewards) = (vec![0i64; rows * cols], vec![0.0f64; rows * cols]);
            for r in 0..rows {
                let mut c = next(3) as usize;
                while c < cols {
                    let n = 1 + next(if r % 2 == 0 { 40 } else { 3 }) as usize;
                    for k in c..(c + n).min(cols) {
                        mask[r * cols + k] = 1;
                    }
                    if next(2) == 0 {
                        rewards[r * cols + ((c + n).min(cols) - 1)] = next(5) as f64 - 2.0;
                    }
                    c += n + next(30) as usize;
                }
                if next(4) == 0 {
                    rewards[r * cols + next(cols as u64) as usize] += 0.25;
                }
            }
            let (s, sums) = Spans::scan(&mask, &rewards, rows, cols, true).unwrap();
            assert_eq!(
                (s.clone(), sums),
                reference(&mask, &rewards, cols),
                "cols {cols}"
            );
            assert_eq!(Spans::of(&mask, rows, cols), s);
            let flags: Vec<bool> = mask.iter().map(|&m| m != 0).collect();
            assert_eq!(Spans::of(&flags, rows, cols), s);
        }
    }

    #[test]
    fn writes_put_values_on_policy_tokens_only() {
        let s = Spans::of(&[1.0f32, 0.0, 1.0, 1.0], 1, 4);
        assert_eq!(s.write_turns::<f64>(&[2.0, 3.0]), vec![2.0, 0.0, 3.0, 3.0]);
        assert_eq!(s.write_turns::<f32>(&[2.0, 3.0]), vec![2.0, 0.0, 3.0, 3.0]);
        assert_eq!(
            s.write_tokens::<f64>(&[1.0, 5.0, 6.0], &[0, 1, 3]),
            Ok(vec![1.0, 0.0, 5.0, 6.0])
        );
        assert_eq!(s.write_tokens::<f64>(&[1.0, 5.0], &[0, 1, 2]), Err(1));
        let ends = s.write_ends::<f64>(&[2.0, 3.0]);
        assert_eq!(ends, vec![2.0, 0.0, 0.0, 3.0]);
        let mask = [1.0f32, 0.0, 1.0, 1.0];
        let (_, sums) = Spans::scan(&mask, &ends, 1, 4, true).unwrap();
        assert_eq!(
            sums,
            RowSums {
                turn: vec![2.0, 3.0],
                outcome: vec![5.0]
            }
        );
        // a row without turns is all zeros
        let none = Spans::of(&[0u8; 3], 1, 3);
        assert_eq!(none.write_turns::<f32>(&[]), vec![0.0; 3]);
    }
}
