//! The run folder: a fresh run never starts over an existing one (it is resumed, or moved
//! aside with `--force`, never emptied), an OS file lock keeps a second trainer out while
//! one is running (the kernel drops the lock when its process dies, however it dies, so a
//! killed run never blocks the next), and what a killed writer left behind is removed when
//! the next trainer takes the lock.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::checkpoint;

/// The lock file inside a run folder (it holds the owner's process id, for messages).
pub const LOCK_FILE: &str = ".lock";

/// Entries whose presence makes a folder a run (a fresh start would overwrite them).
pub const RUN_ENTRIES: &[&str] = &[
    "config.toml",
    "metrics.jsonl",
    "checkpoints",
    "warm_start",
    "reference",
    "rollouts",
];

/// A run folder held under its lock (released when dropped, or when the process ends).
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    _lock: File,
}

impl RunDir {
    /// Locks `path` (created if missing) for a fresh run; refuses a folder that already
    /// holds a run, naming `--resume` and `--force`.
    pub fn create(path: &Path) -> Result<RunDir> {
        let dir = RunDir::lock(path)?;
        let found = run_entries(path);
        anyhow::ensure!(
            found.is_empty(),
            "{p} already holds a run ({}). Continue it with `turnwise train --resume {p}`, or \
             start over with `--force`, which moves it to {}",
            found.join(", "),
            aside_name(path).display(),
            p = path.display(),
        );
        dir.clean()?;
        Ok(dir)
    }

    /// Locks the existing run in `path` for resuming.
    pub fn open(path: &Path) -> Result<RunDir> {
        anyhow::ensure!(
            path.join("config.toml").is_file(),
            "{p} holds no run (no config.toml); start one with `turnwise train --out {p}`",
            p = path.display()
        );
        let dir = RunDir::lock(path)?;
        dir.clean()?;
        Ok(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(path: &Path) -> Result<RunDir> {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        let lock = path.join(LOCK_FILE);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock)
            .with_context(|| format!("opening {}", lock.display()))?;
        match fs4::FileExt::try_lock(&f) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let owner = std::fs::read_to_string(&lock).unwrap_or_default();
                let owner = owner.trim();
                anyhow::bail!(
                    "{} is in use by another trainer{}; wait for it to finish or stop it first",
                    path.display(),
                    if owner.is_empty() {
                        String::new()
                    } else {
                        format!(" (process {owner})")
                    }
                );
            }
            Err(fs4::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", lock.display()))
            }
        }
        f.set_len(0)?;
        write!(f, "{}", std::process::id())?;
        Ok(RunDir {
            path: path.to_path_buf(),
            _lock: f,
        })
    }

    /// Removes what a killed writer left: checkpoint temporaries, `.tmp-*` folders and
    /// `NAME.PID.tmp` files (atomic writes) in the run folder and `rollouts/`.
    fn clean(&self) -> Result<usize> {
        let mut n = checkpoint::clean_temporaries(&self.path)?;
        for d in [self.path.clone(), self.path.join("rollouts")] {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !(name.starts_with(".tmp-") || is_atomic_temp(&name)) {
                    continue;
                }
                checkpoint::remove_entry(&e.path())?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// `NAME.PID.tmp`, the temporary sibling of `turnwise_core::jsonl::write_atomic`.
fn is_atomic_temp(name: &str) -> bool {
    name.strip_suffix(".tmp")
        .and_then(|s| s.rsplit_once('.'))
        .is_some_and(|(stem, pid)| {
            !stem.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The run entries present in `path`.
pub fn run_entries(path: &Path) -> Vec<String> {
    RUN_ENTRIES
        .iter()
        .filter(|e| path.join(e).exists())
        .map(|e| e.to_string())
        .collect()
}

/// The first free `PATH.old-N`.
fn aside_name(path: &Path) -> PathBuf {
    let base = path
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches('/')
        .to_owned();
    (1..)
        .map(|k| PathBuf::from(format!("{base}.old-{k}")))
        .find(|p| !p.exists())
        .expect("a free name")
}

/// Moves the run in `path` aside to the first free `PATH.old-N` (under its lock, so a
/// running trainer's folder is never moved) and returns where it went; None when `path`
/// holds no run.
pub fn move_aside(path: &Path) -> Result<Option<PathBuf>> {
    if run_entries(path).is_empty() {
        return Ok(None);
    }
    let held = RunDir::lock(path)?;
    let to = aside_name(path);
    std::fs::rename(path, &to)
        .with_context(|| format!("moving {} to {}", path.display(), to.display()))?;
    drop(held);
    Ok(Some(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_holding_a_run_is_refused_then_moved_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        {
            let d = RunDir::create(&run).unwrap();
            std::fs::write(d.path().join("config.toml"), "x").unwrap();
        }
        let e = RunDir::create(&run).unwrap_err().to_string();
        assert!(
            e.contains("--resume") && e.contains("--force") && e.contains("config.toml"),
            "{e}"
        );
        let to = move_aside(&run).unwrap().unwrap();
        assert_eq!(to, tmp.path().join("run.old-1"));
        assert!(to.join("config.toml").exists());
        RunDir::create(&run).unwrap();
        assert_eq!(move_aside(&run).unwrap(), None);
    }

    #[test]
    fn a_second_trainer_is_refused_while_the_first_holds_the_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let first = RunDir::create(tmp.path()).unwrap();
        std::fs::write(tmp.path().join("config.toml"), "x").unwrap();
        let e = RunDir::open(tmp.path()).unwrap_err().to_string();
        assert!(
            e.contains("in use by another trainer") && e.contains(&std::process::id().to_string()),
            "{e}"
        );
        assert!(move_aside(tmp.path()).is_err());
        drop(first);
        RunDir::open(tmp.path()).unwrap();
    }

    #[test]
    fn temporaries_are_removed_when_the_lock_is_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path();
        std::fs::write(run.join("config.toml"), "x").unwrap();
        std::fs::create_dir_all(run.join("rollouts")).unwrap();
        std::fs::create_dir_all(run.join("checkpoints/.tmp-step-000002-77")).unwrap();
        std::fs::create_dir_all(run.join(".tmp-warm_start-77")).unwrap();
        std::fs::write(run.join("rollouts/last.jsonl.77.tmp"), "x").unwrap();
        std::fs::write(run.join("metrics.jsonl.12.tmp"), "x").unwrap();
        std::fs::write(run.join("notes.tmp"), "mine").unwrap();
        RunDir::open(run).unwrap();
        let mut left: Vec<String> = walk(run);
        left.sort();
        assert_eq!(
            left,
            [
                ".lock",
                "checkpoints",
                "config.toml",
                "notes.tmp",
                "rollouts"
            ]
        );
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut v = vec![];
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                let inner = walk(&e.path());
                assert!(inner.is_empty(), "{name}: {inner:?}");
            }
            v.push(name);
        }
        v
    }
}
