//! Turns inside token rows (no Python here): verl, SkyRL and TRL hold one row of tokens
//! per trajectory with a mask that is 1 on the policy's tokens and 0 on environment, tool
//! and padding tokens. Each maximal run of 1s is one turn. Per-turn values go back onto
//! the turn's tokens.

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

impl Spans {
    /// The runs of `mask[r * cols + c] != zero`, row by row (`rows × cols` values).
    pub fn of<T: Copy + PartialEq>(mask: &[T], rows: usize, cols: usize, zero: T) -> Spans {
        let mut s = Spans {
            cols,
            traj_offsets: Vec::with_capacity(rows + 1),
            start: Vec::new(),
            end: Vec::new(),
        };
        s.traj_offsets.push(0);
        for r in 0..rows {
            let row = &mask[r * cols..(r + 1) * cols];
            let mut inside = false;
            for (c, &m) in row.iter().enumerate() {
                let on = m != zero;
                if on && !inside {
                    s.start.push(c);
                } else if !on && inside {
                    s.end.push(c);
                }
                inside = on;
            }
            if inside {
                s.end.push(cols);
            }
            s.traj_offsets.push(s.start.len());
        }
        s
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

    /// Per-turn rewards and per-row outcomes from token rewards (row-major): a turn's
    /// reward is the sum over its tokens and the non-policy tokens after it, up to the
    /// next turn (where an environment's feedback on the action sits); rewards before a
    /// row's first turn count for that turn. The outcome is the row's sum (verl's score).
    pub fn rewards(&self, token_rewards: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let mut turn = vec![0.0; self.turns()];
        let mut outcome = vec![0.0; self.rows()];
        for r in 0..self.rows() {
            let row = &token_rewards[r * self.cols..(r + 1) * self.cols];
            outcome[r] = row.iter().sum();
            let (a, b) = (self.traj_offsets[r], self.traj_offsets[r + 1]);
            for (t, slot) in turn.iter_mut().enumerate().take(b).skip(a) {
                let lo = if t == a { 0 } else { self.start[t] };
                let hi = if t + 1 == b {
                    self.cols
                } else {
                    self.start[t + 1]
                };
                *slot = row[lo..hi].iter().sum();
            }
        }
        (turn, outcome)
    }

    /// One value per turn on each of the turn's tokens, 0 elsewhere (row-major).
    pub fn scatter(&self, per_turn: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.rows() * self.cols];
        for r in 0..self.rows() {
            for t in self.traj_offsets[r]..self.traj_offsets[r + 1] {
                out[r * self.cols + self.start[t]..r * self.cols + self.end[t]].fill(per_turn[t]);
            }
        }
        out
    }

    /// One value per turn on the turn's last token, 0 elsewhere (row-major): where a
    /// reward manager puts per-turn rewards so that [`Spans::rewards`] reads them back.
    pub fn at_ends(&self, per_turn: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.rows() * self.cols];
        for r in 0..self.rows() {
            for t in self.traj_offsets[r]..self.traj_offsets[r + 1] {
                out[r * self.cols + self.end[t] - 1] = per_turn[t];
            }
        }
        out
    }

    /// Per-token values (a list per turn, flat with `offsets`) on the turns' tokens;
    /// `Err(turn)` names the first turn whose list length is not its token count.
    pub fn scatter_tokens(&self, values: &[f64], offsets: &[usize]) -> Result<Vec<f64>, usize> {
        let mut out = vec![0.0; self.rows() * self.cols];
        for r in 0..self.rows() {
            for t in self.traj_offsets[r]..self.traj_offsets[r + 1] {
                let v = &values[offsets[t]..offsets[t + 1]];
                if v.len() != self.end[t] - self.start[t] {
                    return Err(t);
                }
                out[r * self.cols + self.start[t]..r * self.cols + self.end[t]].copy_from_slice(v);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_ones_are_turns() {
        let mask = [
            1, 1, 0, 0, 1, 0, /* row 2 */ 0, 0, 0, 0, 0, 0, /* row 3 */ 0, 1, 1, 1, 1, 1,
        ];
        let s = Spans::of(&mask, mask.len() / 6, 6, 0);
        assert_eq!(s.traj_offsets, vec![0, 2, 2, 3]);
        assert_eq!(s.start, vec![0, 4, 1]);
        assert_eq!(s.end, vec![2, 5, 6]);
        assert_eq!(s.lengths(), vec![2, 1, 5]);
    }

    #[test]
    fn rewards_follow_their_turn_and_sum_to_the_outcome() {
        let mask = [0, 1, 1, 0, 1, 0];
        let rewards = [0.5, 0.0, 1.0, 2.0, 0.0, 4.0];
        let s = Spans::of(&mask, mask.len() / 6, 6, 0);
        let (turn, outcome) = s.rewards(&rewards);
        assert_eq!(turn, vec![3.5, 4.0]);
        assert_eq!(outcome, vec![7.5]);
    }

    #[test]
    fn scatter_puts_values_on_policy_tokens_only() {
        let s = Spans::of(&[1.0f32, 0.0, 1.0, 1.0], 1, 4, 0.0);
        assert_eq!(s.scatter(&[2.0, 3.0]), vec![2.0, 0.0, 3.0, 3.0]);
        assert_eq!(
            s.scatter_tokens(&[1.0, 5.0, 6.0], &[0, 1, 3]),
            Ok(vec![1.0, 0.0, 5.0, 6.0])
        );
        assert_eq!(s.scatter_tokens(&[1.0, 5.0], &[0, 1, 2]), Err(1));
        let ends = s.at_ends(&[2.0, 3.0]);
        assert_eq!(ends, vec![2.0, 0.0, 0.0, 3.0]);
        assert_eq!(s.rewards(&ends), (vec![2.0, 3.0], vec![5.0]));
    }
}
