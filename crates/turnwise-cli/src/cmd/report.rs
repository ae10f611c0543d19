//! `turnwise report`: one self-contained HTML file (inline SVG, no script, nothing fetched
//! at view time) from run folders and compare folders, plus optionally their
//! `summary.json` and a Markdown table.

use std::path::PathBuf;

use anyhow::Result;
use turnwise_report::html;

/// Arguments of `turnwise report`.
#[derive(clap::Args)]
pub struct Args {
    /// Run folders, compare folders, or folders holding them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(long, default_value = "report.html")]
    out: PathBuf,
    /// Also write the statistics as JSON here (the format of a compare's summary.json).
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Also write the final-score table as Markdown here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// The method each other method is tested against (default: the compare's, else the
    /// first method found).
    #[arg(long)]
    baseline: Option<String>,
    /// Target score of "steps to target" (default: 95 normalised points, or 90% success).
    #[arg(long)]
    target: Option<f64>,
    /// Page title.
    #[arg(long, default_value = "turnwise report")]
    title: String,
    /// Trajectories per credit heatmap.
    #[arg(long, default_value_t = 8)]
    heatmap_rows: usize,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    let opts = html::Options {
        title: args.title.clone(),
        baseline: args.baseline.clone(),
        target: args.target,
        heatmap_rows: args.heatmap_rows,
        subtitle: format!(
            "from {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let sum = turnwise_report::write_report(&args.paths, &args.out, &opts)?;
    if let Some(p) = &args.summary {
        let text = serde_json::to_string_pretty(&sum)? + "\n";
        turnwise_core::jsonl::write_atomic(p, text.as_bytes())?;
    }
    if let Some(p) = &args.markdown {
        turnwise_core::jsonl::write_atomic(p, turnwise_report::markdown::table(&sum).as_bytes())?;
    }
    eprintln!(
        "report: {} ({} method/environment groups)",
        args.out.display(),
        sum.groups.len()
    );
    Ok(0)
}
