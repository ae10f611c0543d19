//! Per-turn credit of sample trajectories of one RL step, for the report's heatmaps.
//!
//! Source, in order of preference: a rollout file under `RUN/rollouts/` whose turns carry
//! what the trainer credited (turn field `credit`: `advantage`, and `reward` as credit saw
//! it; the latest step's file); else `rollouts/last.jsonl`
//! credited again with the run's configured method and parameters through
//! turnwise-credit's registry (credit methods are pure functions of the batch, so this
//! is the value the trainer used unless `loss.kl_in_reward` changed the rewards).

use std::path::{Path, PathBuf};

use serde::Serialize;
use turnwise_core::{jsonl, Batch, Group};

use crate::run::Run;

/// One trajectory's row of a heatmap.
#[derive(Debug, Clone, Serialize)]
pub struct CreditRow {
    /// Trajectory id.
    pub id: String,
    /// Reward of each turn (0 where none).
    pub rewards: Vec<f64>,
    /// Credit (advantage) of each turn.
    pub credit: Vec<f64>,
    /// Action text of each turn.
    pub actions: Vec<String>,
    /// The trajectory's return.
    pub total: f64,
    /// Whether the episode was solved (when the environment says).
    pub success: Option<bool>,
}

/// Sample trajectories of one step with what a method credited at each turn.
#[derive(Debug, Clone, Serialize)]
pub struct CreditView {
    /// The method.
    pub method: String,
    /// RL step of the batch, when known.
    pub step: Option<u64>,
    /// Where the values come from.
    pub origin: String,
    /// The task group shown.
    pub group_id: String,
    /// One row per trajectory of that group.
    pub rows: Vec<CreditRow>,
}

/// Step number in a file name like `step-000040.jsonl`.
fn step_of(p: &Path) -> Option<u64> {
    let stem = p.file_stem()?.to_str()?;
    let digits: String = stem.chars().filter(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// The trainer's record of what credit assignment gave a turn (`credit.<key>`).
fn recorded(u: &turnwise_core::Turn, key: &str) -> Option<f64> {
    u.ext.as_ref()?.credit.as_ref()?.get(key).copied()
}

fn has_recorded_credit(batch: &Batch) -> bool {
    batch
        .groups
        .iter()
        .flat_map(|g| &g.trajectories)
        .flat_map(|t| &t.turns)
        .any(|u| recorded(u, "advantage").is_some())
}

/// The rollout files of a run, newest step last.
fn rollout_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir.join("rollouts")) else {
        return vec![];
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .collect();
    v.sort_by_key(|p| step_of(p));
    v
}

/// The group whose outcomes vary most (the most informative for credit), first on ties.
fn pick_group(batch: &Batch) -> Option<usize> {
    let spread = |g: &Group| {
        let xs: Vec<f64> = g.trajectories.iter().map(|t| t.total_reward()).collect();
        if xs.len() < 2 {
            0.0
        } else {
            crate::stats::std_dev(&xs)
        }
    };
    (0..batch.groups.len()).max_by(|&a, &b| {
        spread(&batch.groups[a])
            .total_cmp(&spread(&batch.groups[b]))
            .then(b.cmp(&a))
    })
}

fn rows(
    batch: &Batch,
    gi: usize,
    credit: impl Fn(usize, usize) -> f64,
    max: usize,
) -> Vec<CreditRow> {
    let first: usize = batch.groups[..gi]
        .iter()
        .map(|g| g.trajectories.len())
        .sum();
    batch.groups[gi]
        .trajectories
        .iter()
        .take(max)
        .enumerate()
        .map(|(k, t)| CreditRow {
            id: t.id.clone(),
            rewards: t
                .turns
                .iter()
                .map(|u| recorded(u, "reward").or(u.reward).unwrap_or(0.0))
                .collect(),
            credit: (0..t.turns.len()).map(|j| credit(first + k, j)).collect(),
            actions: t.turns.iter().map(|u| u.action.text.clone()).collect(),
            total: t.total_reward(),
            success: t.success,
        })
        .collect()
}

/// The credit view of `run` (at most `max_rows` trajectories of one group), or why there
/// is none.
pub fn for_run(run: &Run, max_rows: usize) -> Result<CreditView, String> {
    let files = rollout_files(&run.dir);
    let mut last = None;
    for f in files.iter().rev() {
        let Ok(batch) = jsonl::read_batch(f) else {
            continue;
        };
        if has_recorded_credit(&batch) {
            let gi = pick_group(&batch).ok_or("empty rollout file")?;
            let flat: Vec<_> = batch.groups.iter().flat_map(|g| &g.trajectories).collect();
            let credit =
                |t: usize, j: usize| recorded(&flat[t].turns[j], "advantage").unwrap_or(f64::NAN);
            return Ok(CreditView {
                method: run.method.clone(),
                step: step_of(f).or_else(|| run.steps.last().map(|s| s.step)),
                origin: format!("recorded by the trainer ({})", rel(run, f)),
                group_id: batch.groups[gi].prompt_id.clone(),
                rows: rows(&batch, gi, credit, max_rows),
            });
        }
        if f.file_name().is_some_and(|n| n == "last.jsonl") {
            last = Some((f.clone(), batch));
        }
    }
    let (f, batch) = last.ok_or_else(|| "no rollouts/last.jsonl yet".to_string())?;
    let params = run
        .config
        .get("credit")
        .and_then(|c| c.get("params"))
        .and_then(|p| serde_json::to_value(p).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let out = turnwise_credit::registry::run(&run.method, &batch, &params, &[])
        .map_err(|e| format!("recomputing {}: {e}", run.method))?;
    let tv = out
        .turn_values()
        .ok_or_else(|| format!("{} does not give one value per turn", run.method))?;
    let gi = pick_group(&batch).ok_or("empty rollout file")?;
    Ok(CreditView {
        method: run.method.clone(),
        step: run.steps.last().map(|s| s.step),
        origin: format!(
            "{} credited again with {} (same pure function as in training)",
            rel(run, &f),
            run.method
        ),
        group_id: batch.groups[gi].prompt_id.clone(),
        rows: rows(&batch, gi, |t, j| tv.traj(t)[j], max_rows),
    })
}

fn rel(run: &Run, f: &Path) -> String {
    f.strip_prefix(&run.dir).unwrap_or(f).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(reward: f64, credit: Option<f64>) -> String {
        let c = credit
            .map(|a| format!(r#", "credit": {{"advantage": {a}, "reward": {reward}}}"#))
            .unwrap_or_default();
        format!(
            r#"{{"observation": {{"text": "o", "token_ids": [1]}}, "action": {{"text": "move up", "token_ids": [2]}}, "tokens": 1, "reward": {reward}{c}}}"#
        )
    }

    /// A run folder whose last batch has one group: a solved two-turn trajectory and an
    /// unsolved one-turn trajectory (GRPO advantages ±0.7071 with std normalisation).
    fn run_with(file: &str, credit: bool) -> (tempfile::TempDir, Run) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[run]\nseed = 0\n[env]\nname = \"lmrl/maze-fo\"\n[credit]\nmethod = \"grpo\"\n[credit.params]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("metrics.jsonl"),
            r#"{"step":7,"return":-1.0,"success":0.5,"entropy":0.3,"elapsed_s":1.0}"#,
        )
        .unwrap();
        let a = |x: f64| credit.then_some(x);
        let line = format!(
            r#"{{"v": 1, "prompt_id": "p", "trajectories": [{{"id": "t0", "outcome": 0.0, "terminated": true, "truncated": false, "success": true, "turns": [{}, {}]}}, {{"id": "t1", "outcome": -1.0, "terminated": false, "truncated": true, "success": false, "turns": [{}]}}]}}"#,
            turn(-1.0, a(0.5)),
            turn(1.0, a(0.25)),
            turn(-1.0, a(-0.75))
        );
        std::fs::create_dir_all(dir.path().join("rollouts")).unwrap();
        std::fs::write(dir.path().join("rollouts").join(file), line + "\n").unwrap();
        let run = crate::run::read(dir.path()).unwrap();
        (dir, run)
    }

    #[test]
    fn recorded_credit_is_read_from_the_rollout_file() {
        let (_d, run) = run_with("step-000007.jsonl", true);
        let v = for_run(&run, 8).unwrap();
        assert_eq!(v.step, Some(7));
        assert!(v.origin.contains("recorded"), "{}", v.origin);
        assert_eq!(v.rows[0].credit, vec![0.5, 0.25]);
        assert_eq!(v.rows[1].credit, vec![-0.75]);
        assert_eq!(v.rows[0].success, Some(true));
        assert_eq!(v.rows[0].total, 0.0);
    }

    #[test]
    fn without_a_record_the_method_credits_the_last_batch_again() {
        let (_d, run) = run_with("last.jsonl", false);
        let v = for_run(&run, 8).unwrap();
        assert!(v.origin.contains("credited again"), "{}", v.origin);
        // GRPO: outcomes 0 and −1, mean −½, unbiased std √½: ±0.7071 on every turn.
        let want = std::f64::consts::FRAC_1_SQRT_2;
        for c in &v.rows[0].credit {
            assert!((c - want).abs() < 1e-4, "{c}");
        }
        assert!((v.rows[1].credit[0] + want).abs() < 1e-4);
        assert_eq!(v.rows.len(), 2);
        assert_eq!(for_run(&run, 1).unwrap().rows.len(), 1);
    }

    #[test]
    fn a_run_without_rollouts_says_so() {
        let (d, run) = run_with("last.jsonl", false);
        std::fs::remove_dir_all(d.path().join("rollouts")).unwrap();
        assert!(for_run(&run, 8).unwrap_err().contains("no rollouts"));
    }
}
