//! The record stage: the step's rollouts (turnwise JSON Lines, each turn with what credit
//! gave it in `credit`, `docs/formats.md`) as `rollouts/last.jsonl`, kept as
//! `rollouts/step-NNNNNN.jsonl` at evaluation steps (`eval.every`), and one
//! `metrics.jsonl` line.

use std::path::Path;

use anyhow::Result;
use turnwise_core::{jsonl, Batch};

use super::StepMetrics;
use crate::config::Config;

/// Writes the rollouts of step `step` (atomically).
pub fn rollouts(out: &Path, cfg: &Config, step: u64, batch: &Batch) -> Result<()> {
    let dir = out.join("rollouts");
    std::fs::create_dir_all(&dir)?;
    let mut w = jsonl::AtomicWriter::create(&dir.join("last.jsonl"))?;
    for g in &batch.groups {
        w.write_group(g)?;
    }
    w.commit()?;
    let every = cfg.eval.every;
    if every > 0 && step.is_multiple_of(every) {
        std::fs::copy(
            dir.join("last.jsonl"),
            dir.join(format!(".tmp-step-{step:06}.jsonl")),
        )?;
        std::fs::rename(
            dir.join(format!(".tmp-step-{step:06}.jsonl")),
            dir.join(format!("step-{step:06}.jsonl")),
        )?;
    }
    Ok(())
}

/// Appends the step's metrics line.
pub fn metrics(out: &Path, m: &StepMetrics) -> Result<()> {
    crate::train::run::append_line(&out.join("metrics.jsonl"), &serde_json::to_string(m)?)
}
