//! `turnwise loss`: evaluate the loss-side reference cases (`policy_loss`, `kl_estimate`,
//! `disco_kl_penalty`, `epo_phase_weight`, `epo_history`, `epo_entropy`) with the
//! trainer's tensor code, mirroring `turnwise advantages --check`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use serde_json::Value;
use turnwise_core::jsonl::{self, Record};
use turnwise_credit::check::{case_diffs, mismatch_report};
use turnwise_train::loss::vectors;

/// Arguments of `turnwise loss`.
#[derive(clap::Args)]
pub struct Args {
    /// Input JSON Lines file of test cases; cases of other kinds are skipped.
    #[arg(long)]
    input: PathBuf,
    /// Compare with each case's `expected` at 1e-6 relative tolerance; exit 1 on mismatch.
    #[arg(long)]
    check: bool,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    let (mut cases, mut failures) = (0usize, 0usize);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for rec in jsonl::open(&args.input)? {
        let (line, rec) = rec?;
        let Record::Case(case) = rec else {
            return Err(anyhow!(
                "{}:{line}: expected a test case",
                args.input.display()
            ));
        };
        let Some(eval) = vectors::evaluator(&case.method) else {
            continue;
        };
        cases += 1;
        let got = eval(&case)
            .map_err(|e| anyhow!("{}:{line} ({}): {e}", args.input.display(), case.name))?;
        writeln!(out, "{got}")?;
        if args.check {
            let diffs = case_diffs(&got, &Value::Null, case.expected.as_ref(), None);
            if !diffs.is_empty() {
                failures += 1;
                out.flush()?;
                let place = format!("{}:{line}", args.input.display());
                eprintln!(
                    "{}",
                    mismatch_report(&place, &case.method, &case.name, &diffs)
                );
            }
        }
    }
    out.flush()?;
    if args.check {
        if failures > 0 {
            eprintln!("{failures} of {cases} loss cases mismatched");
            return Ok(1);
        }
        eprintln!("all {cases} loss cases match");
    }
    Ok(0)
}
