//! `turnwise envs`: every registered environment with its options and defaults.

use anyhow::Result;
use serde_json::json;
use turnwise_envs::registry;

/// Arguments of `turnwise envs`.
#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object per environment instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    for spec in registry::all() {
        if args.json {
            let opts: Vec<_> = spec
                .options
                .iter()
                .map(|o| json!({"name": o.name, "kind": o.kind.describe(), "default": o.default, "doc": o.doc}))
                .collect();
            println!(
                "{}",
                json!({"name": spec.name, "doc": spec.doc, "options": opts})
            );
        } else {
            println!("{}\n    {}", spec.name, spec.doc);
            for o in spec.options {
                println!(
                    "    --option {}={}  ({}) {}",
                    o.name,
                    o.default,
                    o.kind.describe(),
                    o.doc
                );
            }
        }
    }
    Ok(0)
}
