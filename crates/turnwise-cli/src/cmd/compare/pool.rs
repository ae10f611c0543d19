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

/// Reaps the child if it has exited: its exit status and the CPU seconds (user + system)
/// it used (`wait4`'s resource usage; std's `try_wait` does not report it).
pub fn try_reap(r: &Running) -> Result<Option<(std::process::ExitStatus, f64)>> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4(2) fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4(2) on our own child's pid with valid pointers.
    let pid = unsafe {
        libc::wait4(
            r.child.id() as libc::pid_t,
            &mut status,
            libc::WNOHANG,
            &mut usage,
        )
    };
    match pid {
        0 => Ok(None),
        p if p < 0 => Err(std::io::Error::last_os_error()).context("waiting for a training"),
        _ => {
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            let cpu = secs(usage.ru_utime) + secs(usage.ru_stime);
            Ok(Some((std::process::ExitStatus::from_raw(status), cpu)))
        }
    }
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

/// Whether a run folder holds a run `turnwise train --resume` can continue (from its
/// newest intact checkpoint, or from the start when it was killed during the warm start).
pub fn resumable(run: &Path) -> bool {
    run.join("config.toml").is_file()
}

/// Waits until no trainer holds the run folder's lock (`RUN/.lock`): a child of an earlier
/// compare that was killed saves its step before it exits.
pub fn wait_unlocked(run: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let Ok(f) = std::fs::File::open(run.join(turnwise_train::train::run_dir::LOCK_FILE)) else {
        return Ok(());
    };
    let mut told = false;
    // SAFETY: flock(2) on a descriptor we own; released when `f` closes.
    while unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        if !told {
            eprintln!(
                "compare: {} is still held by a trainer; waiting for it to save and exit",
                run.display()
            );
            told = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    Ok(())
}
