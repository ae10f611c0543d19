//! LMRL's maze evaluation protocol (spec §1.1): episodes from each of the 25 start cells,
//! average return, and the normalised score (spec §1, [`crate::score`]).

use crate::env::Env;
use crate::envs::maze::{eval_starts, Maze};
use crate::history::TurnText;
use crate::score;

/// The result of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MazeEval {
    /// Episodes played (25 × episodes per start).
    pub episodes: usize,
    /// Mean return.
    pub mean_return: f64,
    /// Fraction of episodes that reached the goal.
    pub success_rate: f64,
    /// LMRL-normalised score of the mean return (FO or PO constants).
    pub score: f64,
}

/// Plays `episodes_per_start` episodes from each of the 25 evaluation starts. `policy`
/// sees the past turns (observation text, action line with its `"\n"`) and the current
/// observation, and returns its output; the text before the first `"\n"` is the action.
pub fn lmrl_maze(
    fully_observed: bool,
    episodes_per_start: usize,
    mut policy: impl FnMut(&[TurnText], &str) -> String,
) -> MazeEval {
    let (mut total, mut wins, mut n) = (0.0, 0usize, 0usize);
    for (r, c) in eval_starts() {
        for e in 0..episodes_per_start {
            let mut env = Maze::new(fully_observed);
            env.start = Some((r as u8, c as u8));
            let mut obs = env.reset(e as u64).text.into_owned();
            let mut past: Vec<TurnText> = Vec::new();
            loop {
                let out = policy(&past, &obs);
                let action = out.split('\n').next().unwrap_or("");
                let s = env.step(action);
                total += s.reward;
                past.push(TurnText {
                    observation: std::mem::take(&mut obs),
                    action: format!("{action}\n"),
                });
                if s.done() {
                    wins += usize::from(s.info.success);
                    break;
                }
                obs = s.observation.into_owned();
            }
            n += 1;
        }
    }
    let mean_return = total / n as f64;
    let norm = if fully_observed {
        score::MAZE_FO
    } else {
        score::MAZE_PO
    };
    MazeEval {
        episodes: n,
        mean_return,
        success_rate: wins as f64 / n as f64,
        score: norm.score(mean_return),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envs::maze::{distance_to_goal, ACTIONS};

    /// A policy that reads its position from the FO text (independent of the env's expert).
    fn read_position(obs: &str) -> (usize, usize) {
        let tail = obs
            .split("current position is at position ")
            .nth(1)
            .unwrap();
        let coords = tail.split('.').next().unwrap();
        let mut it = coords
            .split(", ")
            .map(|d| d.replace(' ', "").parse::<usize>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    }

    #[test]
    fn greedy_fo_policy_scores_100_and_always_up_scores_low() {
        let ev = lmrl_maze(true, 1, |_, obs| {
            let (r, c) = read_position(obs);
            let d = distance_to_goal(r, c).unwrap();
            let (a, _) = ACTIONS
                .iter()
                .find(|(_, (dr, dc))| {
                    distance_to_goal((r as i32 + dr) as usize, (c as i32 + dc) as usize)
                        == Some(d - 1)
                })
                .unwrap();
            format!("{a}\nignored")
        });
        assert_eq!(ev.episodes, 25);
        assert_eq!(ev.success_rate, 1.0);
        assert!((ev.score - 100.0).abs() < 1e-9, "{ev:?}");
        let bad = lmrl_maze(false, 1, |_, _| "move up\n".into());
        assert_eq!(bad.success_rate, 0.0);
        assert_eq!(bad.mean_return, -101.0);
        assert_eq!(bad.score, 0.0);
    }
}
