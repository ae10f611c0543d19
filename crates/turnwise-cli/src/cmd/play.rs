//! `turnwise play`: play an environment in the terminal as the policy would. Each line is a
//! policy output in the chosen format (`\n` inside a line is a newline; for raw-text
//! environments the Enter key is the stop string), parsed by the trainer's own code
//! ([`turnwise_envs::session`]); the prompt shown is the trainer's. `:hint` shows the
//! expert's output, `:quit` ends.

use std::io::{BufRead, Write};

use anyhow::Result;
use turnwise_envs::render::Style;
use turnwise_envs::session::Session;
use turnwise_envs::{registry, ActionFormat};

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
    /// Prompt and output format: faithful (the benchmark's own, as the trainer uses) or chat.
    #[arg(long, default_value = "faithful")]
    style: Style,
    /// Response budget stated in RAGEN's prompt (the trainer's `sampling.max_action_tokens`).
    #[arg(long, default_value_t = 100)]
    max_tokens: usize,
}

/// Undoes the escaping of typed or replayed outputs: `\n` → newline, `\\` → backslash.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn show(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    write!(out, "{text}")?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    let mut env = registry::make_from_strings(&args.env, &args.options)?;
    let (mut session, _, prompt) =
        Session::start(&mut *env, args.style, args.max_tokens, args.seed);
    let out = std::io::stdout();
    let mut out = out.lock();
    if let Some(sys) = session.system() {
        writeln!(out, "[system] {sys}")?;
    }
    show(&mut out, &prompt)?;
    let stop = match session.env().action_format() {
        ActionFormat::Line(stop) if args.style == Style::Faithful => Some(stop),
        _ => None,
    };
    writeln!(
        out,
        "[type the policy's output: {}{}; \\n is a newline, :hint shows the expert, :quit ends]",
        args.style.format_hint(session.env()),
        if stop.is_some() {
            " (Enter is the newline)"
        } else {
            ""
        }
    )?;
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
                let hint = session
                    .env()
                    .expert_action()
                    .map(|a| args.style.format_action(session.env(), &a))
                    .unwrap_or_default();
                writeln!(out, "expert: {}", hint.replace('\n', "\\n"))?;
                continue;
            }
            _ => {}
        }
        let mut output = unescape(&line);
        if let Some(stop) = stop {
            output.push_str(stop);
        }
        let a = session.act(&output);
        ret += a.step.reward;
        if a.format_ok {
            writeln!(out, "[action {:?}]", a.action)?;
        } else {
            writeln!(
                out,
                "[format error: expected {}; stepped with {:?}]",
                args.style.format_hint(session.env()),
                a.action
            )?;
        }
        writeln!(
            out,
            "[reward {} | return {ret} | valid {} | success {}]",
            a.step.reward, a.step.info.action_valid, a.step.info.success
        )?;
        if let Some(e) = &a.step.info.error {
            writeln!(out, "[environment error: {e}]")?;
        }
        match &a.prompt {
            Some(p) => show(&mut out, p)?,
            None => {
                show(&mut out, &a.step.observation)?;
                writeln!(
                    out,
                    "episode over ({}), return {ret}",
                    if a.step.terminated {
                        "terminated"
                    } else {
                        "truncated"
                    }
                )?;
                break;
            }
        }
    }
    Ok(0)
}
