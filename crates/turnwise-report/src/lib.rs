//! turnwise-report: statistics over turnwise runs and the HTML report.
//!
//! * [`stats`]: bootstrap intervals (exact for small samples), the paired sign-flip
//!   permutation test and the paired t-test;
//! * [`curve`]: learning curves, their area, time to a target, bands over seeds;
//! * [`run`], [`manifest`], [`source`]: reading run folders and compare folders;
//! * [`summary`]: `summary.json` of a comparison;
//! * [`credit`]: per-turn credit of sample trajectories, for the heatmaps;
//! * [`html`]: the self-contained HTML report (inline SVG, no script, no network).
//!
//! No libtorch: the crate reads what `turnwise train` and `turnwise compare` write.

pub mod credit;
pub mod curve;
pub mod html;
pub mod manifest;
pub mod markdown;
pub mod reference;
pub mod run;
pub mod source;
pub mod stats;
pub mod summary;

use std::path::{Path, PathBuf};

/// Reads the runs under `paths`, renders the report and writes it to `out` atomically;
/// returns the summary.
pub fn write_report(
    paths: &[PathBuf],
    out: &Path,
    opts: &html::Options,
) -> anyhow::Result<summary::Summary> {
    let src = source::load(paths)?;
    let (page, sum) = html::render(&src, opts);
    turnwise_core::jsonl::write_atomic(out, page.as_bytes())?;
    Ok(sum)
}

/// Refreshes `RUN/report.html` of a run folder (what `turnwise train` calls after every
/// evaluation).
pub fn refresh_run_report(run: &Path) -> anyhow::Result<()> {
    let opts = html::Options {
        title: format!("turnwise run {}", run.display()),
        subtitle: "refreshed by turnwise train after every evaluation".into(),
        ..Default::default()
    };
    write_report(&[run.to_path_buf()], &run.join("report.html"), &opts).map(|_| ())
}
