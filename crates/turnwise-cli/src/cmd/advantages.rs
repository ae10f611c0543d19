//! `turnwise advantages`: run a credit-assignment method over a file of test cases
//! (reference-vector schema) or of trajectory groups (turnwise batch format).

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Map, Value};
use turnwise_core::jsonl::{self, Record};
use turnwise_core::Batch;
use turnwise_credit::check::{case_diffs, mismatch_report};
use turnwise_credit::registry;
use turnwise_train::loss::vectors;

/// Arguments of `turnwise advantages`.
#[derive(clap::Args)]
pub struct Args {
    /// Input JSON Lines file: test cases (`method`, `params`, `groups`, `expected`) or
    /// turnwise group lines (`{"v": 1, …}`); `-` reads standard input.
    #[arg(long)]
    input: PathBuf,
    /// Method to run (overrides each case's `method`; required for group lines).
    #[arg(long)]
    method: Option<String>,
    /// Parameter override `KEY=VALUE` (repeatable; overrides the case's `params`).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Compare with each case's `expected` (and `expected_extra`) at 1e-6 relative
    /// tolerance; exit 1 with a diff on mismatch.
    #[arg(long)]
    check: bool,
    /// Print `{"expected": …, "expected_extra": …}` instead of the main output alone.
    #[arg(long)]
    extras: bool,
}

/// Bad input: the message is printed and the process exits with status 2.
fn input_error(msg: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{msg}")
}

fn parse_overrides(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| input_error(format!("--param {kv:?}: expected KEY=VALUE")))
        })
        .collect()
}

/// Errs on a trajectory id used twice among `groups` (line, group): outputs are keyed by
/// id, so two trajectories would collapse into one.
fn check_unique_ids<'a>(
    groups: impl IntoIterator<Item = (usize, &'a turnwise_core::Group)>,
    file: &std::path::Path,
) -> Result<()> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (line, g) in groups {
        for t in &g.trajectories {
            if let Some(first) = seen.insert(t.id.as_str(), line) {
                let where_first = if first == line {
                    "earlier in the same group".to_owned()
                } else {
                    format!("first on line {first}")
                };
                return Err(input_error(format!(
                    "{}:{line}: trajectory id {:?} appears twice ({where_first}); ids must be \
                     unique within a batch (the output is keyed by id)",
                    file.display(),
                    t.id
                )));
            }
        }
    }
    Ok(())
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    let overrides = parse_overrides(&args.params)?;
    let mut failures = 0usize;
    let mut cases = 0usize;
    let mut groups: Vec<(usize, turnwise_core::Group)> = Vec::new();
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    use std::io::Write;
    for rec in jsonl::open(&args.input)? {
        let (line, rec) = rec?;
        match rec {
            Record::Case(case) => {
                cases += 1;
                check_unique_ids(case.batch.groups.iter().map(|g| (line, g)), &args.input)?;
                let (method, params) = match &args.method {
                    Some(m) if *m != case.method => (m.clone(), Map::new()),
                    _ => (case.method.clone(), case.params.clone()),
                };
                let at = |e: &dyn std::fmt::Display| {
                    input_error(format!("{}:{line}: {e}", args.input.display()))
                };
                let (main, extra) = match vectors::evaluator(&method) {
                    // Loss-side cases (policy_loss, kl_estimate, epo_*, disco_kl_penalty) are
                    // evaluated by the trainer's tensor code, as `turnwise loss` does.
                    Some(eval) if overrides.is_empty() => {
                        (eval(&case).map_err(|e| at(&e))?, Value::Object(Map::new()))
                    }
                    _ => {
                        let res = registry::run(&method, &case.batch, &params, &overrides)
                            .map_err(|e| at(&e))?;
                        (res.main_json(&case.batch), res.extras_json(&case.batch))
                    }
                };
                if args.extras {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({"expected": main, "expected_extra": extra})
                    )?;
                } else {
                    writeln!(out, "{main}")?;
                }
                if args.check {
                    let diffs = case_diffs(
                        &main,
                        &extra,
                        case.expected.as_ref(),
                        case.expected_extra.as_ref(),
                    );
                    if !diffs.is_empty() {
                        failures += 1;
                        out.flush()?;
                        let place = format!("{}:{line}", args.input.display());
                        eprintln!("{}", mismatch_report(&place, &method, &case.name, &diffs));
                    }
                }
            }
            Record::Group(g) => groups.push((line, g)),
        }
    }
    if !groups.is_empty() {
        let method = args.method.as_deref().ok_or_else(|| {
            input_error(format!(
                "{}: group lines need --method NAME",
                args.input.display()
            ))
        })?;
        check_unique_ids(groups.iter().map(|(l, g)| (*l, g)), &args.input)?;
        let batch = Batch {
            groups: groups.into_iter().map(|(_, g)| g).collect(),
        };
        let res = registry::run(method, &batch, &Map::new(), &overrides)
            .map_err(|e| input_error(format!("{}: {e}", args.input.display())))?;
        // One output line per input group line.
        let main = res.main_json(&batch);
        for g in &batch.groups {
            let mut m = Map::new();
            for t in &g.trajectories {
                if let Some(v) = main.get(&t.id) {
                    m.insert(t.id.clone(), v.clone());
                }
            }
            writeln!(out, "{}", Value::Object(m))?;
        }
    }
    out.flush()?;
    if args.check {
        if failures > 0 {
            eprintln!("{failures} of {cases} cases mismatched");
            return Ok(1);
        }
        eprintln!("all {cases} cases match");
    }
    Ok(0)
}
