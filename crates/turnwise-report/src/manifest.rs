//! A compare folder's manifest (`DIR/compare.json`): the grid's cells (environment ×
//! method × seed), where each cell's run folder and configuration are, and how far it
//! got. Written by `turnwise compare` (atomically, after every change), read by the
//! report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// File name of the manifest inside a compare folder.
pub const FILE: &str = "compare.json";

/// The state of one cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellState {
    /// Not started, or interrupted (resumed at the next `turnwise compare`).
    Pending,
    /// The run finished (its `metrics.jsonl` has a final evaluation).
    Done,
    /// The run exited with an error that resuming did not cure (e.g. a diverged run
    /// stopped by `run.max_bad_steps`); its last evaluation stands as its score.
    Failed,
}

/// One run of the grid.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    /// Environment (`env.name`).
    pub env: String,
    /// Method label (`credit.method`).
    pub method: String,
    /// Run seed (`run.seed`).
    pub seed: u64,
    /// Run folder, relative to the compare folder.
    pub run: String,
    /// The cell's resolved configuration file, relative to the compare folder.
    pub config: String,
    /// Child log (stdout and stderr), relative to the compare folder.
    pub log: String,
    /// How far the cell got.
    pub state: CellState,
    /// Processes started for this cell so far (fresh starts and resumes).
    #[serde(default)]
    pub attempts: u32,
    /// CPU seconds (user + system) its processes used, over every attempt: unlike wall
    /// time, this does not grow when other work shares the cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_s: Option<f64>,
    /// The last error, for a failed cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// The command line of the latest `turnwise compare` on this folder.
    pub command: Vec<String>,
    /// The method every other method is tested against.
    pub baseline: String,
    /// Target score of "steps to target" (None: the metric's default).
    #[serde(default)]
    pub target: Option<f64>,
    /// The cells, in grid order (environment, method, seed).
    pub cells: Vec<Cell>,
}

impl Manifest {
    /// Reads `dir/compare.json`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let p = dir.join(FILE);
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
    }

    /// Writes `dir/compare.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)? + "\n";
        turnwise_core::jsonl::write_atomic(&dir.join(FILE), text.as_bytes())
            .with_context(|| format!("writing {}", dir.join(FILE).display()))
    }

    /// The absolute run folder of a cell.
    pub fn run_dir(dir: &Path, cell: &Cell) -> PathBuf {
        dir.join(&cell.run)
    }
}

/// Whether `dir` is a compare folder.
pub fn is_compare(dir: &Path) -> bool {
    dir.join(FILE).is_file()
}

/// A file-system-safe name of an environment (`lmrl/maze-fo` → `lmrl-maze-fo`).
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest {
            version: 1,
            command: vec!["turnwise".into(), "compare".into()],
            baseline: "grpo".into(),
            target: Some(95.0),
            cells: vec![Cell {
                env: "lmrl/maze-fo".into(),
                method: "grpo".into(),
                seed: 0,
                run: "runs/lmrl-maze-fo/grpo/seed-0".into(),
                config: "configs/lmrl-maze-fo/grpo/seed-0.toml".into(),
                log: "logs/lmrl-maze-fo/grpo/seed-0.log".into(),
                state: CellState::Failed,
                attempts: 2,
                cpu_s: Some(12.5),
                error: Some("diverged".into()),
            }],
        };
        m.write(dir.path()).unwrap();
        assert!(is_compare(dir.path()));
        let back = Manifest::read(dir.path()).unwrap();
        assert_eq!(back.cells[0].state, CellState::Failed);
        assert_eq!(back.cells[0].error.as_deref(), Some("diverged"));
        assert_eq!(back.cells[0].cpu_s, Some(12.5));
        assert_eq!(slug("lmrl/maze-fo"), "lmrl-maze-fo");
    }
}
