//! The token context of a turn, built from token ids only (token-in / token-out,
//! `anchors.md`: never re-tokenise history). A turn's context is the beginning-of-sequence
//! id (when the tokenizer has one), then the kept past turns (observation ids followed by
//! action ids), then its own observation ids.
//!
//! MEM1 ([`HistoryMode::Mem1`]) keeps the task's first observation, only the previous
//! action (the agent's internal state and its move) and the current observation: the
//! previous observation and everything older are dropped once the agent has written its
//! new state. Each turn's training row is exactly the context it was sampled from, which
//! is MEM1's masked-trajectory rule (each token attends only to the memory kept when it
//! was generated, at the positions it had then) without a 2-D attention mask.

use turnwise_core::Trajectory;

use crate::config::HistoryMode;

/// Which past turns enter the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistorySpec {
    /// `full`, `last-k` or `mem1`.
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
            HistoryMode::Mem1 => t.saturating_sub(1),
        }
    }
}

/// The context of an observation `obs` seen before turn `t`: `bos`, the turns kept before
/// `t`, then `obs`.
fn context_with(traj: &Trajectory, t: usize, obs: &[u32], h: HistorySpec) -> Vec<u32> {
    let mut ids: Vec<u32> = h.bos.into_iter().collect();
    if h.mode == HistoryMode::Mem1 {
        if t > 0 {
            ids.extend_from_slice(&traj.turns[0].observation.token_ids);
            ids.extend_from_slice(&traj.turns[t - 1].action.token_ids);
        }
    } else {
        for u in &traj.turns[h.first_kept(t)..t] {
            ids.extend_from_slice(&u.observation.token_ids);
            ids.extend_from_slice(&u.action.token_ids);
        }
    }
    ids.extend_from_slice(obs);
    ids
}

/// The context ids of turn `t` of `traj` (the action of turn `t` excluded).
pub fn context_of(traj: &Trajectory, t: usize, h: HistorySpec) -> Vec<u32> {
    context_with(traj, t, &traj.turns[t].observation.token_ids, h)
}

/// The context of the state after the last turn, s_T, where the trajectory recorded its
/// final observation (truncated trajectories).
pub fn final_context(traj: &Trajectory, h: HistorySpec) -> Option<Vec<u32>> {
    let obs = traj.ext().final_observation.as_ref()?;
    Some(context_with(traj, traj.turns.len(), &obs.token_ids, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use turnwise_core::trajectory::Text;
    use turnwise_core::Turn;

    /// An episode of `n` turns: observation t is [100 + t, 100 + t], action t is
    /// [200 + t, 200 + t, 200 + t] (its internal state and move).
    fn episode(n: u32) -> Trajectory {
        let text = |ids: Vec<u32>| Text {
            text: String::new(),
            token_ids: ids,
        };
        Trajectory {
            turns: (0..n)
                .map(|t| Turn {
                    observation: text(vec![100 + t; 2]),
                    action: text(vec![200 + t; 3]),
                    ..Turn::default()
                })
                .collect(),
            ..Trajectory::default()
        }
    }

    fn spec(mode: HistoryMode, k: usize) -> HistorySpec {
        HistorySpec {
            mode,
            k,
            bos: Some(1),
        }
    }

    #[test]
    fn mem1_keeps_the_task_the_last_state_and_the_new_observation() {
        let e = episode(6);
        let h = spec(HistoryMode::Mem1, 0);
        assert_eq!(context_of(&e, 0, h), vec![1, 100, 100]);
        assert_eq!(
            context_of(&e, 1, h),
            vec![1, 100, 100, 200, 200, 200, 101, 101]
        );
        assert_eq!(
            context_of(&e, 4, h),
            vec![1, 100, 100, 203, 203, 203, 104, 104]
        );
    }

    #[test]
    fn mem1_context_stays_bounded_while_the_episode_grows() {
        let e = episode(200);
        let mem1 = spec(HistoryMode::Mem1, 0);
        let full = spec(HistoryMode::Full, 0);
        let lens: Vec<usize> = (0..200).map(|t| context_of(&e, t, mem1).len()).collect();
        // bos + task (2) + one state/action (3) + one observation (2)
        assert!(lens[1..].iter().all(|&l| l == 8), "{lens:?}");
        assert_eq!(context_of(&e, 199, full).len(), 1 + 199 * 5 + 2);
        // Nothing older than the previous action survives a consolidation.
        for t in 2..200u32 {
            let c = context_of(&e, t as usize, mem1);
            assert!(!c.contains(&(200 + t - 2)) && !c.contains(&(100 + t - 1)));
        }
    }

    #[test]
    fn last_k_and_full_are_unchanged() {
        let e = episode(4);
        assert_eq!(
            context_of(&e, 2, spec(HistoryMode::LastK, 1)),
            vec![1, 101, 101, 201, 201, 201, 102, 102]
        );
        assert_eq!(
            context_of(&e, 2, spec(HistoryMode::LastK, 0)),
            vec![1, 102, 102]
        );
        assert_eq!(
            context_of(&e, 1, spec(HistoryMode::Full, 0)).len(),
            1 + 5 + 2
        );
    }
}
