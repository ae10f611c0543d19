//! Training rows: one row per turn with action tokens (the per-turn-row layout of
//! verl-agent / KernelGYM, `credit-outcome.md` §12.2), with its token context, its
//! advantage (one per row, or one per action token), and whether it is masked (over-turn
//! masking, §13). A step builds its rows once, right after the rollout; credit assignment
//! fills the advantages ([`RowSet::set_advantages`]).
//!
//! Rows whose token sequences are identical (the same observation answered with the same
//! action, common when a group revisits states) are scored once: [`RowSet::uniq`] lists one
//! representative row per distinct (sequence, action length) and [`RowSet::inverse`] maps
//! every row to it. Log-probabilities of identical inputs are identical, so scoring the
//! distinct sequences and expanding them to rows (`index_select`, whose backward sums the
//! duplicates' gradients) gives the same loss and gradient with less work.

use tch::{Kind, Tensor};
use turnwise_core::Batch;
use turnwise_credit::{TokenValues, TurnValues};

use crate::policy::{ActionScores, Policy};
use crate::rollout::{context_of, HistorySpec};

/// The rows of a batch.
#[derive(Debug, Clone, Default)]
pub struct RowSet {
    /// Context ids followed by action ids.
    pub seqs: Vec<Vec<u32>>,
    /// Number of action tokens at the end of each sequence.
    pub action_len: Vec<usize>,
    /// The row's advantage (broadcast to its tokens).
    pub adv: Vec<f64>,
    /// Per-token advantages of each row, overriding `adv` (per-token methods).
    pub adv_tokens: Option<Vec<Vec<f64>>>,
    /// false: the row is masked out of the loss (over-turn masking).
    pub live: Vec<bool>,
    /// Environment step of the row (EPO).
    pub env_step: Vec<usize>,
    /// Trajectory index (batch order) of the row.
    pub traj: Vec<usize>,
    /// Turn index (within its trajectory) of the row.
    pub turn: Vec<usize>,
    /// Per-row clip range (A²TGPO `clip_eps`), when the estimator provides one.
    pub clip_eps: Option<Vec<f64>>,
    /// One representative row per distinct (sequence, action length), in order of first
    /// occurrence.
    pub uniq: Vec<usize>,
    /// For every row, the index into [`RowSet::uniq`] of its sequence.
    pub inverse: Vec<usize>,
}

/// Distinct (sequence, action length) pairs: (first row of each, row → distinct index).
pub fn distinct(seqs: &[&[u32]], action_len: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut seen: std::collections::HashMap<(&[u32], usize), usize> =
        std::collections::HashMap::with_capacity(seqs.len());
    let mut uniq = Vec::new();
    let inverse = seqs
        .iter()
        .zip(action_len)
        .enumerate()
        .map(|(i, (s, &n))| {
            *seen.entry((s, n)).or_insert_with(|| {
                uniq.push(i);
                uniq.len() - 1
            })
        })
        .collect();
    (uniq, inverse)
}

impl RowSet {
    /// Rows of every turn with at least one action token, advantages 0;
    /// `mask_truncated` masks every row of truncated trajectories (§13).
    pub fn from_batch(batch: &Batch, history: HistorySpec, mask_truncated: bool) -> Self {
        let mut r = RowSet::default();
        for (i, traj) in batch.trajectories().enumerate() {
            for (t, turn) in traj.turns.iter().enumerate() {
                if turn.action.token_ids.is_empty() {
                    continue;
                }
                let mut seq = context_of(traj, t, history);
                seq.extend_from_slice(&turn.action.token_ids);
                r.seqs.push(seq);
                r.action_len.push(turn.action.token_ids.len());
                r.adv.push(0.0);
                r.live.push(!(mask_truncated && traj.truncated));
                r.env_step
                    .push(turn.ext().env_step.unwrap_or(t as u64) as usize);
                r.traj.push(i);
                r.turn.push(t);
            }
        }
        let refs: Vec<&[u32]> = r.seqs.iter().map(Vec::as_slice).collect();
        (r.uniq, r.inverse) = distinct(&refs, &r.action_len);
        r
    }

    /// Sets each row's advantage to its turn's value in `adv` (one per turn, batch order)
    /// and drops per-token advantages.
    pub fn set_advantages(&mut self, adv: &TurnValues) {
        for r in 0..self.len() {
            self.adv[r] = adv.traj(self.traj[r])[self.turn[r]];
        }
        self.adv_tokens = None;
    }

    /// Sets per-token advantages from `[trajectory][turn][token]` values; each row's `adv`
    /// becomes the mean over its tokens.
    pub fn set_token_advantages(&mut self, adv: &TokenValues) {
        let per_row: Vec<Vec<f64>> = (0..self.len())
            .map(|r| adv.0[self.traj[r]][self.turn[r]].clone())
            .collect();
        for (a, v) in self.adv.iter_mut().zip(&per_row) {
            *a = v.iter().sum::<f64>() / v.len().max(1) as f64;
        }
        self.adv_tokens = Some(per_row);
    }

    /// Sets each row's clip range to its turn's value in `eps` (A²TGPO), or clears it.
    pub fn set_clip(&mut self, eps: Option<&TurnValues>) {
        self.clip_eps = eps.map(|v| {
            (0..self.len())
                .map(|r| v.traj(self.traj[r])[self.turn[r]])
                .collect()
        });
    }

    /// Number of distinct sequences.
    pub fn unique_len(&self) -> usize {
        self.uniq.len()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// Valid-token counts per row (0 for masked rows), for the batch-wide normaliser.
    pub fn counts(&self) -> Vec<usize> {
        self.action_len
            .iter()
            .zip(&self.live)
            .map(|(&n, &l)| if l { n } else { 0 })
            .collect()
    }

    /// Teacher-forced scores of the distinct sequences `range` (indices into
    /// [`RowSet::uniq`]) under `policy`.
    pub fn score_unique(
        &self,
        policy: &Policy,
        range: std::ops::Range<usize>,
    ) -> anyhow::Result<ActionScores> {
        let reps = &self.uniq[range];
        let refs: Vec<&[u32]> = reps.iter().map(|&i| self.seqs[i].as_slice()).collect();
        let lens: Vec<usize> = reps.iter().map(|&i| self.action_len[i]).collect();
        policy.score_actions(&refs, &lens)
    }

    /// Per-token advantages [R, A] of `rows` (A = `width`; action token k in column k).
    pub fn adv_tensor(&self, rows: &[usize], width: i64) -> Tensor {
        let r = rows.len() as i64;
        if let Some(tokens) = &self.adv_tokens {
            let w = width as usize;
            let mut v = vec![0f32; rows.len() * w];
            for (j, &i) in rows.iter().enumerate() {
                for (k, &x) in tokens[i].iter().enumerate().take(w) {
                    v[j * w + k] = x as f32;
                }
            }
            return Tensor::from_slice(&v).view([r, width]);
        }
        let v: Vec<f32> = rows.iter().map(|&i| self.adv[i] as f32).collect();
        Tensor::from_slice(&v)
            .view([r, 1])
            .expand([r, width], false)
            .contiguous()
    }

    /// The liveness mask [R, 1] of `rows`.
    pub fn live_tensor(&self, rows: &[usize]) -> Tensor {
        let v: Vec<f32> = rows
            .iter()
            .map(|&i| if self.live[i] { 1.0 } else { 0.0 })
            .collect();
        let r = v.len() as i64;
        Tensor::from_slice(&v).view([r, 1]).to_kind(Kind::Float)
    }
}
