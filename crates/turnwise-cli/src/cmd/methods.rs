//! `turnwise methods`: every registered credit-assignment method, its paper, parameters
//! with defaults, whether it is exact or rests on a spec assumption, and the built-in
//! environments on which `turnwise train` computes every field it reads.

use anyhow::Result;
use serde_json::json;
use turnwise_credit::{registry, Status};

/// Arguments of `turnwise methods`.
#[derive(clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// A readable listing.
    Text,
    /// One JSON object per method.
    Json,
    /// The method table of `docs/methods.md`.
    Markdown,
}

fn status_text(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Exact(src) => ("exact", src),
        Status::Assumption(a) => ("assumption", a),
    }
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    match args.format {
        Format::Text => {
            for m in registry::all() {
                let i = m.info();
                let (st, why) = status_text(i.status);
                println!("{}  [{}: {}]", i.name, st, why);
                println!("    {}", i.paper);
                println!("    {}", i.idea);
                println!("    output: {}; reads: {}", i.output, i.fields.join(", "));
                println!(
                    "    fields computed by the trainer on: {}",
                    trains_on_text(i.name)
                );
                for p in i.params {
                    println!(
                        "    --param {}={}  ({}; {})",
                        p.name,
                        p.default_value(),
                        p.kind_name(),
                        p.doc
                    );
                }
                println!();
            }
        }
        Format::Json => {
            for m in registry::all() {
                let i = m.info();
                let (st, why) = status_text(i.status);
                let params: Vec<_> = i
                    .params
                    .iter()
                    .map(|p| json!({"name": p.name, "type": p.kind_name(), "default": p.default_value().to_string(), "doc": p.doc}))
                    .collect();
                println!(
                    "{}",
                    json!({"name": i.name, "paper": i.paper, "idea": i.idea, "output": i.output,
                           "kind": i.kind.name(), "fields": i.fields, "params": params,
                           "status": st, "status_detail": why,
                           "trains_on": turnwise_train::train::annotate::trains_on(i.name)})
                );
            }
        }
        Format::Markdown => print!("{}", markdown_table()),
    }
    Ok(0)
}

/// The built-in environments on which the trainer computes every field `method` reads.
fn trains_on_text(method: &str) -> String {
    let envs = turnwise_train::train::annotate::trains_on(method);
    if envs.is_empty() {
        "no built-in environment provides its fields".to_owned()
    } else if envs.len() == turnwise_envs::registry::ALL.len() {
        "every built-in environment".to_owned()
    } else {
        envs.join(", ")
    }
}

/// The method table of `docs/methods.md` (a test keeps the document in sync).
pub fn markdown_table() -> String {
    let mut s = String::from(
        "| method | paper | idea | reads | parameters (default) | status | fields computed on |\n|---|---|---|---|---|---|---|\n",
    );
    for m in registry::all() {
        let i = m.info();
        let (st, why) = status_text(i.status);
        let params = if i.params.is_empty() {
            "—".to_owned()
        } else {
            i.params
                .iter()
                .map(|p| format!("`{}`={}", p.name, p.default_value()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let esc = |x: &str| x.replace('|', "\\|");
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | **{}**: {} | {} |\n",
            i.name,
            esc(i.paper),
            esc(i.idea),
            i.fields
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", "),
            params,
            st,
            esc(why),
            trains_on_text(i.name)
                .split(", ")
                .map(|e| {
                    if e.contains(' ') {
                        e.to_owned()
                    } else {
                        format!("`{e}`")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    /// `docs/methods.md` holds the registry's current table.
    #[test]
    fn docs_methods_table_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/methods.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let table = super::markdown_table();
        assert!(
            doc.contains(&table),
            "docs/methods.md is out of date: regenerate its table with `turnwise methods --format markdown`"
        );
    }
}
