//! The token context of a turn, built from token ids only (token-in / token-out,
//! `anchors.md`: never re-tokenise history). A turn's context is the beginning-of-sequence
//! id (when the tokenizer has one), then the kept past turns (observation ids followed by
//! action ids), then its own observation ids.

use turnwise_core::Trajectory;

use crate::config::HistoryMode;

/// Which past turns enter the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistorySpec {
    /// `full` or `last-k`.
    pub mode: HistoryMode,
    /// k of `last-k`.
    pub k: usize,
    /// The id every context starts with ([`crate::policy::PolicyTokenizer::bos`]; the word
    /// vocabulary's `<bos>`, a Hugging Face tokenizer's BOS, or none).
    pub bos: Option<u32>,
}

impl HistorySpec {
    /// Index of the first past turn kept before turn `t`.
    pub fn first_kept(&self, t: usize) -> usize {
        match self.mode {
            HistoryMode::Full => 0,
            HistoryMode::LastK => t.saturating_sub(self.k),
        }
    }
}

/// The context ids of turn `t` of `traj` (the action of turn `t` excluded).
pub fn context_of(traj: &Trajectory, t: usize, h: HistorySpec) -> Vec<u32> {
    let mut ids: Vec<u32> = h.bos.into_iter().collect();
    for u in &traj.turns[h.first_kept(t)..t] {
        ids.extend_from_slice(&u.observation.token_ids);
        ids.extend_from_slice(&u.action.token_ids);
    }
    ids.extend_from_slice(&traj.turns[t].observation.token_ids);
    ids
}
