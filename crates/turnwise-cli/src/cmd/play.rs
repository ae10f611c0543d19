//! `turnwise play`: play an environment in the terminal, one action per line.
//! `:hint` shows the expert's action, `:quit` ends.

use std::io::{BufRead, Write};

use anyhow::Result;
use turnwise_envs::registry;

/// Arguments of `turnwise play`.
#[derive(clap::Args)]
pub struct Args {
    /// Environment name (see `turnwise envs`).
    #[arg(long)]
    env: String,
    /// Episode seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Option override `KEY=VALUE` (repeatable).
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    let mut env = registry::make_from_strings(&args.env, &args.options)?;
    let obs = env.reset(args.seed);
    let out = std::io::stdout();
    let mut out = out.lock();
    let instr = env.instructions();
    if !instr.is_empty() {
        writeln!(out, "{instr}")?;
    }
    write!(out, "{}", obs.text)?;
    if !obs.text.ends_with('\n') {
        writeln!(out)?;
    }
    let mut ret = 0.0;
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        write!(out, "> ")?;
        out.flush()?;
        let Some(line) = lines.next() else {
            break;
        };
        let line = line?;
        match line.as_str() {
            ":quit" => break,
            ":hint" => {
                writeln!(out, "expert: {}", env.expert_action().unwrap_or_default())?;
                continue;
            }
            _ => {}
        }
        let s = env.step(&line.replace("\\n", "\n"));
        ret += s.reward;
        write!(out, "{}", s.observation)?;
        if !s.observation.ends_with('\n') {
            writeln!(out)?;
        }
        writeln!(
            out,
            "[reward {} | return {ret} | valid {} | success {}]",
            s.reward, s.info.action_valid, s.info.success
        )?;
        if s.done() {
            writeln!(
                out,
                "episode over ({}), return {ret}",
                if s.terminated {
                    "terminated"
                } else {
                    "truncated"
                }
            )?;
            break;
        }
    }
    Ok(0)
}
