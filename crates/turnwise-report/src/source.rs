//! What a report is made of: the runs found under the paths given (a run folder, a
//! compare folder, or a folder holding either), each with its method label.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::manifest::{self, CellState, Manifest};
use crate::run::{self, Run};

/// One run of a report.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The run, read.
    pub run: Run,
    /// The method label (the compare cell's method, else `credit.method`).
    pub label: String,
    /// The path given on the command line that this run was found under.
    pub source: PathBuf,
    /// Why the run failed (a compare cell that ended in an error).
    pub failed: Option<String>,
}

/// Everything found under the given paths.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The runs.
    pub entries: Vec<Entry>,
    /// Compare manifests found, with their folders.
    pub compares: Vec<(PathBuf, Manifest)>,
    /// Run folders that could not be read, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

impl Sources {
    /// The baseline method: the first compare's, else `fallback` when present, else the
    /// first label.
    pub fn baseline(&self, fallback: Option<&str>) -> Option<String> {
        if let Some(b) = fallback {
            return Some(b.to_owned());
        }
        if let Some((_, m)) = self.compares.first() {
            return Some(m.baseline.clone());
        }
        self.entries.first().map(|e| e.label.clone())
    }
}

/// Finds the runs under `paths` (searching plain folders up to four levels deep).
pub fn load(paths: &[PathBuf]) -> Result<Sources> {
    let mut s = Sources::default();
    for p in paths {
        if !p.is_dir() {
            bail!(
                "{}: not a folder (give a run or compare folder)",
                p.display()
            );
        }
        let before = s.entries.len() + s.skipped.len();
        walk(p, p, 4, &mut s)?;
        if s.entries.len() + s.skipped.len() == before && s.compares.iter().all(|c| &c.0 != p) {
            bail!(
                "{}: no run found (a run folder has config.toml and metrics.jsonl; a compare folder has {})",
                p.display(),
                manifest::FILE
            );
        }
    }
    Ok(s)
}

fn walk(source: &Path, dir: &Path, depth: usize, s: &mut Sources) -> Result<()> {
    if manifest::is_compare(dir) {
        let m = Manifest::read(dir)?;
        for cell in &m.cells {
            let rd = Manifest::run_dir(dir, cell);
            if !run::is_run(&rd) {
                continue;
            }
            match run::read(&rd) {
                Ok(r) => s.entries.push(Entry {
                    run: r,
                    label: cell.method.clone(),
                    source: source.to_path_buf(),
                    failed: (cell.state == CellState::Failed)
                        .then(|| cell.error.clone().unwrap_or_else(|| "failed".into())),
                }),
                Err(e) => s.skipped.push((rd, format!("{e:#}"))),
            }
        }
        s.compares.push((dir.to_path_buf(), m));
        return Ok(());
    }
    if run::is_run(dir) {
        match run::read(dir) {
            Ok(r) => s.entries.push(Entry {
                label: r.method.clone(),
                run: r,
                source: source.to_path_buf(),
                failed: None,
            }),
            Err(e) => s.skipped.push((dir.to_path_buf(), format!("{e:#}"))),
        }
        return Ok(());
    }
    if depth == 0 {
        return Ok(());
    }
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for sub in subs {
        walk(source, &sub, depth - 1, s)?;
    }
    Ok(())
}
