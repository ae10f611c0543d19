//! Per-turn credit of sample trajectories of one RL step, for the report's heatmaps.
//!
//! Source, in order of preference: a rollout file under `RUN/rollouts/` whose turns carry
//! the trainer's credited value (`adv`, the latest step's); else `rollouts/last.jsonl`
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

fn has_recorded_credit(batch: &Batch) -> bool {
    batch
        .groups
        .iter()
        .flat_map(|g| &g.trajectories)
        .flat_map(|t| &t.turns)
        .any(|u| u.ext.as_ref().is_some_and(|e| e.adv.is_some()))
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
            rewards: t.turns.iter().map(|u| u.reward.unwrap_or(0.0)).collect(),
            credit: (0..t.turns.len()).map(|j| credit(first + k, j)).collect(),
            actions: t.turns.iter().map(|u| u.action.text.clone()).collect(),
            total: t.total_reward(),
            success: t.metadata.get("success").and_then(|v| v.as_bool()),
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
            let credit = |t: usize, j: usize| {
                flat[t].turns[j]
                    .ext
                    .as_ref()
                    .and_then(|e| e.adv)
                    .unwrap_or(f64::NAN)
            };
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
