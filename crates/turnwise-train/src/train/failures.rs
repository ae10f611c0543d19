//! Episodes an environment failed (a remote server that died or timed out mid-episode):
//! the rollout ends them as truncated with the error in their metadata
//! ([`crate::rollout::ENV_ERROR_KEY`]); the step records them in `failed_episodes.jsonl`,
//! leaves them out of the update, and stops the run when more than
//! `env.max_failed_episodes` fail in one step. A step whose every episode failed (within the
//! limit: the server is down, or died and came back) makes no update and waits
//! ([`backoff`]) before the next; the run goes on.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::json;
use turnwise_core::{Batch, Trajectory};

use crate::rollout::ENV_ERROR_KEY;

/// Removes the failed trajectories from `batch` (and groups left empty); returns them.
pub fn take_failed(batch: &mut Batch) -> Vec<Trajectory> {
    let mut failed = Vec::new();
    for g in &mut batch.groups {
        let (bad, good): (Vec<_>, Vec<_>) = std::mem::take(&mut g.trajectories)
            .into_iter()
            .partition(|t| t.metadata.contains_key(ENV_ERROR_KEY));
        g.trajectories = good;
        failed.extend(bad);
    }
    batch.groups.retain(|g| !g.trajectories.is_empty());
    failed
}

/// Consecutive steps whose every episode failed after which the run stops (their waits add
/// up to 1 + 2 + 4 + 8 = 15 s before the last one): the server is not coming back.
pub const DOWN_STEPS_LIMIT: u32 = 5;

/// Stops the run at the [`DOWN_STEPS_LIMIT`]-th consecutive step whose every episode failed.
pub fn check_down(down_steps: u32, failed: &[Trajectory], step: u64) -> Result<()> {
    if down_steps >= DOWN_STEPS_LIMIT {
        bail!(
            "stopped at step {step}: every episode of {down_steps} consecutive steps failed (the environment's server is down); last error: {}",
            failed.last().map(error_of).unwrap_or_default()
        );
    }
    Ok(())
}

/// The wait after the `n`-th consecutive step whose every episode failed: 1, 2, 4, 8, then
/// 16 s, so that a server restarting within seconds finds the run still going instead of
/// its remaining steps spent in milliseconds on sessions that cannot open.
pub fn backoff(n: u32) -> Duration {
    Duration::from_secs(1 << n.saturating_sub(1).min(4))
}

/// The error text of a failed trajectory.
pub fn error_of(t: &Trajectory) -> String {
    t.metadata
        .get(ENV_ERROR_KEY)
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_owned()
}

/// Appends one line per failed episode of RL step `step` to `out/failed_episodes.jsonl`.
pub fn record(out: &Path, step: u64, failed: &[Trajectory]) -> Result<()> {
    for t in failed {
        let line = json!({"step": step, "id": t.id, "turns": t.turns.len(),
            "return_so_far": t.total_reward(), "error": error_of(t)});
        super::run::append_line(&out.join("failed_episodes.jsonl"), &line.to_string())?;
    }
    Ok(())
}

/// An error when more than `limit` episodes failed in step `step`.
pub fn check(failed: &[Trajectory], limit: usize, step: u64) -> Result<()> {
    if failed.len() > limit {
        bail!(
            "stopped at step {step}: {} episodes failed (env.max_failed_episodes = {limit}); first error: {}",
            failed.len(),
            failed.first().map(error_of).unwrap_or_default()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use turnwise_core::Group;

    #[test]
    fn backoff_doubles_up_to_sixteen_seconds() {
        let s: Vec<u64> = (1..=7).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(s, [1, 2, 4, 8, 16, 16, 16]);
        let failed = [traj("a", true)];
        assert!(check_down(DOWN_STEPS_LIMIT - 1, &failed, 7).is_ok());
        let e = check_down(DOWN_STEPS_LIMIT, &failed, 8)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("5 consecutive steps") && e.contains("step 8"),
            "{e}"
        );
    }

    fn traj(id: &str, failed: bool) -> Trajectory {
        let mut t = Trajectory {
            id: id.into(),
            ..Trajectory::default()
        };
        if failed {
            t.metadata
                .insert(ENV_ERROR_KEY.into(), json!(format!("{id}: server gone")));
        }
        t
    }

    fn group(ts: Vec<Trajectory>) -> Group {
        Group {
            trajectories: ts,
            ..Group::default()
        }
    }

    #[test]
    fn failed_episodes_leave_the_batch_and_empty_groups_go() {
        let mut batch = Batch {
            groups: vec![
                group(vec![traj("a", false), traj("b", true)]),
                group(vec![traj("c", true), traj("d", true)]),
            ],
        };
        let failed = take_failed(&mut batch);
        let ids: Vec<_> = failed.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "d"]);
        assert_eq!(batch.groups.len(), 1);
        assert_eq!(batch.groups[0].trajectories[0].id, "a");
        assert_eq!(error_of(&failed[0]), "b: server gone");
    }

    #[test]
    fn the_limit_stops_only_above_it() {
        let failed = vec![traj("x", true), traj("y", true)];
        assert!(check(&failed, 2, 3).is_ok());
        let e = check(&failed, 1, 3).unwrap_err().to_string();
        assert!(e.contains("stopped at step 3: 2 episodes failed"), "{e}");
        assert!(e.contains("x: server gone"), "{e}");
        assert!(check(&[], 0, 1).is_ok());
    }

    #[test]
    fn failed_episodes_are_recorded_one_line_each() {
        let dir = std::env::temp_dir().join(format!("tw-failures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        record(&dir, 2, &[traj("x", true), traj("y", true)]).unwrap();
        let text = std::fs::read_to_string(dir.join("failed_episodes.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["id"], "y");
        assert_eq!(lines[1]["step"], 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
