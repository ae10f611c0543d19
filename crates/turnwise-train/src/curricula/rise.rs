//! RISE (Qu et al. 2024, "Recursive Introspection: Teaching Language Model Agents How to
//! Self-Improve"): a task with a verifier becomes a multi-turn MDP of attempts separated by
//! feedback ("Incorrect. Please think again."); on-policy rollouts are improved by
//! best-of-N self-sampling, and the policy is trained by reward-weighted regression on the
//! improved multi-turn sequences, between RL phases.
//!
//! In turnwise a RISE phase runs after the RL update of every `curricula.rise_every`-th
//! step, on the groups that step played: from each group (the G rollouts of one task, the
//! N of best-of-N) it keeps the best trajectory that *improves*: it succeeds after at least
//! one failed attempt (highest return; ties: the first). Every turn of the kept sequences
//! is a regression row with weight exp(r_t/τ) (r_t the turn's reward, τ =
//! `curricula.rise_tau`), the first failed attempts included at their low weight, as in RWR;
//! `curricula.rise_steps` AdamW steps of token-mean NLL on rows drawn ∝ weight
//! ([`crate::train::sft::train_rows`]; `sft.batch` rows a step, peak rate `optim.lr`).

use anyhow::Result;
use turnwise_core::{Batch, Group, Trajectory};

use crate::config::Config;
use crate::policy::Policy;
use crate::rollout::HistorySpec;
use crate::train::rows::RowSet;
use crate::train::sft::{train_rows, Phase};

/// What a RISE phase did (`rise_kept`, `rise_rows`, `rise_nll` in `metrics.jsonl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RiseReport {
    /// Improving sequences trained on (at most one per group).
    #[serde(rename = "rise_kept")]
    pub kept: usize,
    /// Regression rows (turns) of those sequences.
    #[serde(rename = "rise_rows")]
    pub rows: usize,
    /// Mean NLL per action token over the phase's last tenth of steps.
    #[serde(rename = "rise_nll")]
    pub nll: f64,
}

/// Whether `t` corrects itself: it succeeds, and not at its first turn.
pub fn improves(t: &Trajectory) -> bool {
    t.success == Some(true) && t.turns.len() >= 2
}

/// Best-of-N: the index of `g`'s improving trajectory with the highest return (ties: the
/// first), if any.
pub fn best_of_group(g: &Group) -> Option<usize> {
    let ret = |t: &Trajectory| t.outcome.unwrap_or_else(|| t.total_reward());
    g.trajectories
        .iter()
        .enumerate()
        .filter(|(_, t)| improves(t))
        .fold(None, |best: Option<(usize, f64)>, (i, t)| match best {
            Some((_, r)) if r >= ret(t) => best,
            _ => Some((i, ret(t))),
        })
        .map(|(i, _)| i)
}

/// The RWR weight of a turn with reward `r`: exp(r/τ) (a turn without a reward: r = 0).
pub fn weight(r: f64, tau: f64) -> f64 {
    (r / tau).exp()
}

/// One RISE phase on `groups` (tokenised rollouts); `None` when no group holds an
/// improving sequence (nothing is trained).
pub fn phase(
    policy: &Policy,
    groups: &[Group],
    cfg: &Config,
    history: HistorySpec,
    step: u64,
) -> Result<Option<RiseReport>> {
    let kept: Vec<Group> = groups
        .iter()
        .filter_map(|g| {
            best_of_group(g).map(|i| Group {
                trajectories: vec![g.trajectories[i].clone()],
                ..g.clone()
            })
        })
        .collect();
    let batch = Batch { groups: kept };
    let rows = RowSet::from_batch(&batch, history, false);
    if rows.is_empty() {
        return Ok(None);
    }
    let trajs: Vec<&Trajectory> = batch.groups.iter().flat_map(|g| &g.trajectories).collect();
    let tau = cfg.curricula.rise_tau;
    let w: Vec<f64> = (0..rows.len())
        .map(|i| {
            let r = trajs[rows.traj[i]].turns[rows.turn[i]].reward;
            weight(r.unwrap_or(0.0), tau)
        })
        .collect();
    let ph = Phase {
        steps: cfg.curricula.rise_steps,
        batch: cfg.sft.batch,
        lr: cfg.optim.lr,
        weights: Some(&w),
        stream: 0x6000_0000 + step,
    };
    let st = train_rows(policy, &rows, cfg, ph, |_, _| true)?;
    Ok(Some(RiseReport {
        kept: batch.groups.len(),
        rows: rows.len(),
        nll: st.final_nll,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use turnwise_core::Turn;

    /// A trajectory with these turn rewards, succeeding when `ok`.
    fn traj(rewards: &[f64], ok: bool) -> Trajectory {
        Trajectory {
            turns: rewards
                .iter()
                .map(|&r| Turn {
                    reward: Some(r),
                    ..Turn::default()
                })
                .collect(),
            outcome: Some(rewards.iter().sum()),
            success: Some(ok),
            ..Trajectory::default()
        }
    }

    fn group(ts: Vec<Trajectory>) -> Group {
        Group {
            trajectories: ts,
            ..Group::default()
        }
    }

    #[test]
    fn best_of_n_keeps_the_best_self_correction() {
        // right at once (not a correction), wrong throughout, corrected at turn 3 and at turn 2
        let g = group(vec![
            traj(&[1.0], true),
            traj(&[0.0, 0.0, 0.0], false),
            traj(&[0.0, 0.0, 0.25], true),
            traj(&[0.0, 0.5], true),
        ]);
        assert!(!improves(&g.trajectories[0]));
        assert!(!improves(&g.trajectories[1]));
        assert!(improves(&g.trajectories[2]));
        assert_eq!(best_of_group(&g), Some(3));
        // ties keep the first
        let tie = group(vec![traj(&[0.0, 0.5], true), traj(&[0.0, 0.5], true)]);
        assert_eq!(best_of_group(&tie), Some(0));
        let none = group(vec![traj(&[1.0], true), traj(&[0.0, 0.0], false)]);
        assert_eq!(best_of_group(&none), None);
    }

    #[test]
    fn a_phase_regresses_most_on_the_rewarded_correction() {
        use crate::config::HistoryMode;
        use turnwise_core::trajectory::Text;
        let policy = crate::curricula::tiny_policy("a b c d e", 3);
        let ids = |w: &str| policy.tokenizer.encode(w).unwrap();
        let text = |w: &str| Text {
            text: w.into(),
            token_ids: ids(w),
        };
        // attempt "b" after "a" is wrong (reward 0), the correction "c" after "d" is right
        let turn = |obs: &str, act: &str, r: f64| Turn {
            observation: text(obs),
            action: text(act),
            tokens: 1,
            reward: Some(r),
            ..Turn::default()
        };
        let corrected = Trajectory {
            turns: vec![turn("a", "b", 0.0), turn("d", "c", 0.5)],
            outcome: Some(0.5),
            success: Some(true),
            ..Trajectory::default()
        };
        let failed = Trajectory {
            turns: vec![turn("a", "e", 0.0), turn("d", "e", 0.0)],
            outcome: Some(0.0),
            success: Some(false),
            ..Trajectory::default()
        };
        let groups = [group(vec![failed, corrected])];
        let h = HistorySpec {
            mode: HistoryMode::LastK,
            k: 0,
            bos: None,
        };
        let logp = |ctx: &str, act: &str| {
            let seq = [ids(ctx), ids(act)].concat();
            let s = policy.score_actions(&[&seq], &[1]).unwrap();
            s.logp.double_value(&[0, 0])
        };
        let before = [logp("a", "b"), logp("d", "c"), logp("d", "e")];
        let mut cfg = Config::default();
        cfg.curricula.rise_steps = 30;
        cfg.optim.lr = 1e-2;
        cfg.sft.batch = 4;
        let r = phase(&policy, &groups, &cfg, h, 0).unwrap().unwrap();
        assert_eq!((r.kept, r.rows), (1, 2));
        let after = [logp("a", "b"), logp("d", "c"), logp("d", "e")];
        let gain: Vec<f64> = before.iter().zip(&after).map(|(b, a)| a - b).collect();
        // weight e^5 on the correction against e^0 on the failed attempt; the failed
        // trajectory is not trained on at all
        assert!(gain[1] > 1.0, "{gain:?}");
        assert!(gain[1] > gain[0] + 1.0, "{gain:?}");
        assert!(gain[2] < 0.0, "{gain:?}");
        // no improving sequence: nothing is trained
        let none = [group(vec![traj(&[1.0], true)])];
        assert_eq!(phase(&policy, &none, &cfg, h, 1).unwrap(), None);
    }

    #[test]
    fn rwr_weights_favour_rewarded_turns() {
        assert_eq!(weight(0.0, 0.1), 1.0);
        assert!((weight(0.5, 0.1) - 5f64.exp()).abs() < 1e-9);
        assert!(weight(0.25, 0.1) < weight(0.5, 0.1));
    }
}
