//! Child `turnwise train` processes of a compare: at most `jobs` at once, each in its own
//! process group (a terminal Ctrl-C reaches only the compare, which then sends each child
//! exactly one SIGINT so it saves and exits) and told to stop (SIGTERM) if the compare
//! dies (`PR_SET_PDEATHSIG`).

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

/// How a cell's process starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `turnwise train --config CELL.toml --out RUN`.
    Fresh,
    /// `turnwise train --resume RUN`.
    Resume,
}

/// A running child.
pub struct Running {
    /// Index of its cell in the manifest.
    pub cell: usize,
    /// The process.
    pub child: Child,
    /// When it started.
    pub started: std::time::Instant,
}

/// Starts `turnwise train` for a cell, appending its output to `log`.
pub fn spawn(
    exe: &Path,
    start: Start,
    config: &Path,
    run: &Path,
    log: &Path,
    cell: usize,
) -> Result<Running> {
    if let Some(p) = log.parent() {
        std::fs::create_dir_all(p)?;
    }
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let mut cmd = Command::new(exe);
    match start {
        Start::Fresh => cmd.args([
            "train".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--out".as_ref(),
            run.as_os_str(),
        ]),
        Start::Resume => cmd.args(["train".as_ref(), "--resume".as_ref(), run.as_os_str()]),
    };
    cmd.stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f)
        .process_group(0);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    Ok(Running {
        cell,
        child,
        started: std::time::Instant::now(),
    })
}

/// Sends SIGINT to a child (it finishes its step, saves and exits).
pub fn interrupt(r: &Running) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(r.child.id() as libc::pid_t, libc::SIGINT);
    }
}

/// The last `error:` line of a child's log (what `turnwise` prints before exiting 2).
pub fn last_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim().to_owned())
}

/// Whether a run folder has a checkpoint to resume from.
pub fn resumable(run: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(run.join("checkpoints")) else {
        return false;
    };
    rd.filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("step-") && e.path().is_dir())
}
