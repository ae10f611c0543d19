//! `turnwise env replay`: steps an environment with policy outputs from a file, parsed as
//! the trainer parses them, and prints one JSON line per turn with the prompt shown.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use turnwise_envs::render::Style;
use turnwise_envs::session::Session;
use turnwise_envs::{registry, Info};

use crate::cmd::play::unescape;

/// Arguments of `turnwise env replay`.
#[derive(clap::Args)]
pub struct Args {
    /// Environment name.
    #[arg(long)]
    env: String,
    /// Episode seed.
    #[arg(long)]
    seed: u64,
    /// Option override `KEY=VALUE` (repeatable).
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// One policy output per line in the chosen format (LMRL: `move up\n`; RAGEN:
    /// `<think>…</think><answer>Up</answer>`); `\n` inside a line is written as the two
    /// characters `\n`. A raw-text line without its stop string is stepped as it is.
    #[arg(long)]
    actions: PathBuf,
    /// Prompt and output format: faithful (as the trainer) or chat.
    #[arg(long, default_value = "faithful")]
    style: Style,
    /// Response budget stated in RAGEN's prompt.
    #[arg(long, default_value_t = 100)]
    max_tokens: usize,
}

/// The `info` fields as JSON.
pub fn info_json(i: &Info) -> Value {
    json!({
        "success": i.success,
        "action_valid": i.action_valid,
        "action_effective": i.action_effective,
        "ground_truth": i.ground_truth,
        "state_key": i.state_key,
        "tool_calls": i.tool_calls.as_ref().map(|v| v.iter().map(|c| json!({"name": c.name, "arguments": c.arguments})).collect::<Vec<_>>()),
        "answer_f1": i.answer_f1,
        "error": i.error,
    })
}

/// Runs the command; returns the exit status.
pub fn run(a: Args) -> Result<i32> {
    let mut env = registry::make_from_strings(&a.env, &a.options)?;
    let file = std::fs::File::open(&a.actions)
        .with_context(|| format!("cannot open actions file {}", a.actions.display()))?;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let (mut session, obs, prompt) = Session::start(&mut *env, a.style, a.max_tokens, a.seed);
    writeln!(
        out,
        "{}",
        json!({"observation": obs.text, "system": session.system(), "prompt": prompt,
            "info": info_json(&obs.info)})
    )?;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line =
            line.with_context(|| format!("{}:{}: unreadable line", a.actions.display(), i + 1))?;
        if session.is_over() {
            anyhow::bail!(
                "{}:{}: the episode is already over; remove the remaining actions",
                a.actions.display(),
                i + 1
            );
        }
        let output = unescape(line.strip_suffix('\r').unwrap_or(&line));
        let r = session.act(&output);
        let s = &r.step;
        writeln!(
            out,
            "{}",
            json!({"output": output, "action": r.action, "format_ok": r.format_ok,
                "observation": s.observation, "reward": s.reward,
                "terminated": s.terminated, "truncated": s.truncated,
                "info": info_json(&s.info), "prompt": r.prompt})
        )?;
    }
    out.flush()?;
    Ok(0)
}
