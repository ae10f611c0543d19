//! `metrics.jsonl`: one JSON object per line, each appended with a single write call so a
//! kill cannot leave half a line followed by a whole one; on resume, lines of steps after
//! the checkpoint (they will be redone) and a torn last line are dropped.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use turnwise_core::jsonl;

/// The metrics file of a run folder.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// Appends `line` and its newline to `path` in one write.
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| path.display().to_string())?;
    f.write_all(buf.as_bytes())
        .with_context(|| path.display().to_string())
}

/// Keeps the lines of `path` whose `step` is at most `step` (and lines without one);
/// drops lines that do not parse (a torn write). Rewrites the file atomically; returns
/// how many lines were dropped.
pub fn truncate_after(path: &Path, step: u64) -> Result<usize> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(0);
    };
    let mut kept = String::with_capacity(text.len());
    let mut dropped = 0;
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let keep = serde_json::from_str::<serde_json::Value>(l)
            .ok()
            .filter(|v| v.is_object())
            .is_some_and(|v| v["step"].as_u64().is_none_or(|s| s <= step));
        if keep {
            kept.push_str(l);
            kept.push('\n');
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 || !text.ends_with('\n') && !text.is_empty() {
        jsonl::write_atomic(path, kept.as_bytes())?;
    }
    Ok(dropped)
}

/// Whether `path` holds a line with `"phase": phase`.
pub fn has_phase(path: &Path, phase: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| {
        t.lines().any(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|v| v["phase"].as_str() == Some(phase))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_drops_later_steps_and_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(METRICS_FILE);
        for l in [
            r#"{"phase":"warm_start"}"#,
            r#"{"step":1}"#,
            r#"{"step":2}"#,
            r#"{"step":3}"#,
        ] {
            append_line(&p, l).unwrap();
        }
        // A torn write: half a line, no newline.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"step":4,"ret"#).unwrap();
        assert_eq!(truncate_after(&p, 2).unwrap(), 2);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "{\"phase\":\"warm_start\"}\n{\"step\":1}\n{\"step\":2}\n"
        );
        assert!(has_phase(&p, "warm_start") && !has_phase(&p, "final"));
        assert_eq!(truncate_after(&p, 2).unwrap(), 0);
    }
}
