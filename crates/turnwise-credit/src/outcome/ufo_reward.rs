//! UFO, unary feedback as observation ("A Simple 'Try Again' Can Elicit Multi-Turn LLM
//! Reasoning", arXiv 2507.14295; lichengliu03/unary-feedback), `credit-outcome.md` §14.
//! A reward shaper: returns per-turn **rewards**, not advantages.
//!
//! Over the valid answers `a_0, a_1, …` (format-invalid turns do not reach the env), a
//! correct answer at valid index k earns `γ^k` and ends the episode, as do `max_turns`
//! valid answers. At termination `R = γ^k·[solved] − λ·(1 − E/T)` (E distinct answers of
//! T valid ones, two answers being the same when they are equal lower-cased with all
//! whitespace removed, as upstream's `_minimal_normalize_answer`); every invalid turn adds
//! `format_penalty`. R sits on the last turn.

use std::collections::HashSet;

use turnwise_core::answer::minimal_key;
use turnwise_core::{Batch, Trajectory};

use crate::error::CreditError;
use crate::estimator::{Estimator, MethodInfo, OutputKind, Status};
use crate::output::{CreditOutput, TurnValues};
use crate::params::{Default as D, ParamKind, ParamSpec, Params};

/// UFO reward options (names of the reference implementation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UfoOptions {
    /// γ: a correct answer at valid index k earns γ^k (code: 1/2^k).
    pub gamma: f64,
    /// λ, weight of the repetition penalty `1 − E/T`.
    pub lam: f64,
    /// Reward added per format-invalid turn.
    pub format_penalty: f64,
    /// The env terminates after this many valid answers.
    pub max_turns: u64,
}

/// The UFO episode reward of one trajectory, on its last turn (`credit-outcome.md` §14).
/// A turn without `valid` counts as valid; valid turns need `correct` and `answer`.
pub fn ufo_trajectory_reward(t: &Trajectory, o: UfoOptions) -> Result<f64, CreditError> {
    const M: &str = "ufo_reward";
    let (mut k, mut n_valid, mut invalid) = (0u64, 0u64, 0u64);
    let mut seen: HashSet<String> = HashSet::new();
    let mut solved = 0.0;
    for (i, turn) in t.turns.iter().enumerate() {
        let e = turn.ext();
        if !e.valid.unwrap_or(true) {
            invalid += 1;
            continue;
        }
        n_valid += 1;
        let answer = e
            .answer
            .as_deref()
            .ok_or_else(|| CreditError::missing_turn(M, "answer", &t.id, i))?;
        seen.insert(minimal_key(answer));
        let correct = e
            .correct
            .ok_or_else(|| CreditError::missing_turn(M, "correct", &t.id, i))?;
        if correct {
            solved = o.gamma.powi(k.min(i32::MAX as u64) as i32);
            break;
        }
        k += 1;
        if k >= o.max_turns {
            break;
        }
    }
    let terminated = solved > 0.0 || n_valid >= o.max_turns;
    let pen = if terminated && n_valid > 0 {
        o.lam * (1.0 - seen.len() as f64 / n_valid as f64)
    } else {
        0.0
    };
    Ok(solved - pen + o.format_penalty * invalid as f64)
}

/// UFO per-turn rewards: 0 everywhere except the episode reward on the last turn.
pub fn ufo_rewards(batch: &Batch, o: UfoOptions) -> Result<TurnValues, CreditError> {
    let mut out = TurnValues::zeros(batch);
    for (i, t) in batch.trajectories().enumerate() {
        if let Some(last) = out.traj_mut(i).last_mut() {
            *last = ufo_trajectory_reward(t, o)?;
        }
    }
    Ok(out)
}

static PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "gamma",
        kind: ParamKind::Float,
        default: D::Float(0.5),
        doc: "γ: a correct answer at valid attempt k earns γ^k",
    },
    ParamSpec {
        name: "lam",
        kind: ParamKind::Float,
        default: D::Float(0.5),
        doc: "λ, weight of the repetition penalty 1 − distinct/valid answers",
    },
    ParamSpec {
        name: "format_penalty",
        kind: ParamKind::Float,
        default: D::Float(-0.1),
        doc: "reward added per turn without a valid answer",
    },
    ParamSpec {
        name: "max_turns",
        kind: ParamKind::Int,
        default: D::Int(5),
        doc: "the env terminates after this many valid answers (max_steps)",
    },
];

/// `ufo_reward`: registry adapter of [`ufo_rewards`].
pub struct UfoReward;

impl Estimator for UfoReward {
    fn info(&self) -> &'static MethodInfo {
        static INFO: MethodInfo = MethodInfo {
            name: "ufo_reward",
            paper: "UFO, unary feedback as observation (\"Try Again\", arXiv 2507.14295)",
            idea: "Reward γ^k for a correct answer at attempt k, minus a repetition penalty and format penalties, on the last turn.",
            fields: &["valid", "answer", "correct"],
            params: PARAMS,
            status: Status::Exact("lichengliu03/unary-feedback MetaMathQA env + RAGEN ctx_manager"),
            output: "rewards",
            kind: OutputKind::Rewards,
        };
        &INFO
    }

    fn compute(&self, batch: &Batch, p: &Params) -> Result<CreditOutput, CreditError> {
        let max_turns = p.i64("max_turns");
        if max_turns < 1 {
            return Err(CreditError::BadParam {
                method: "ufo_reward".into(),
                param: "max_turns".into(),
                message: format!("must be ≥ 1, got {max_turns}"),
            });
        }
        let o = UfoOptions {
            gamma: p.f64("gamma"),
            lam: p.f64("lam"),
            format_penalty: p.f64("format_penalty"),
            max_turns: max_turns as u64,
        };
        ufo_rewards(batch, o).map(CreditOutput::per_turn)
    }
}

#[cfg(test)]
mod tests {
    use turnwise_core::{Trajectory, Turn};

    use super::{ufo_trajectory_reward, UfoOptions};

    fn traj(answers: &[&str]) -> Trajectory {
        let turns = answers
            .iter()
            .map(|a| {
                let mut t = Turn::default();
                let e = t.ext_mut();
                e.answer = Some((*a).to_owned());
                e.correct = Some(false);
                e.valid = Some(true);
                t
            })
            .collect();
        Trajectory {
            id: "t".into(),
            turns,
            ..Trajectory::default()
        }
    }

    /// Upstream counts distinct answers lower-cased with all whitespace removed: "x" then
    /// "X" (both wrong, max_turns 2) is one distinct answer of two, penalty 0.5·(1 − 1/2).
    #[test]
    fn distinct_answers_ignore_case_and_whitespace() {
        let o = UfoOptions {
            gamma: 0.5,
            lam: 0.5,
            format_penalty: -0.1,
            max_turns: 2,
        };
        assert_eq!(ufo_trajectory_reward(&traj(&["x", "X"]), o).unwrap(), -0.25);
        assert_eq!(
            ufo_trajectory_reward(&traj(&["4 2", " 42"]), o).unwrap(),
            -0.25
        );
        assert_eq!(ufo_trajectory_reward(&traj(&["x", "y"]), o).unwrap(), 0.0);
    }
}
