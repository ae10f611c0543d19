//! A checkpoint's `manifest.json`: every file of the folder with its size and CRC-32,
//! written last, after the files are synced. A checkpoint is intact when its manifest
//! parses and every listed file has the listed size and checksum; a kill during a write,
//! a truncated file or a lost file are all detected before any weights are read.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The manifest's file name inside a checkpoint folder.
pub const MANIFEST: &str = "manifest.json";

/// Format version of the manifest.
pub const FORMAT: u32 = 1;

/// One file of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the checkpoint folder (`/`-separated).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// CRC-32 (IEEE) of the content.
    pub crc32: u32,
}

/// The contents of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The RL step the checkpoint was taken after (0: the warm start).
    pub step: u64,
    /// Names of the parts saved (`policy`, `optimizer`, `trainer_state`, …).
    pub parts: Vec<String>,
    /// Every other file of the folder.
    pub files: Vec<FileEntry>,
}

/// Size and CRC-32 of a file, streamed.
fn checksum(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut f = File::open(path)?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, h.finalize()))
}

/// Files under `dir` (recursively), relative, sorted; the manifest excluded.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = vec![];
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(dir.join(&rel))
            .with_context(|| dir.join(&rel).display().to_string())?
        {
            let e = e?;
            let r = rel.join(e.file_name());
            if e.file_type()?.is_dir() {
                stack.push(r);
            } else if r != Path::new(MANIFEST) {
                out.push(r);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Syncs a folder's entry list (after creating or renaming files in it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

/// Syncs every file under `dir` to disk, then writes and syncs the manifest listing them.
pub fn write(dir: &Path, step: u64, parts: Vec<String>) -> Result<Manifest> {
    let mut files = vec![];
    for rel in files_under(dir)? {
        let p = dir.join(&rel);
        File::open(&p)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", p.display()))?;
        let (bytes, crc32) = checksum(&p).with_context(|| p.display().to_string())?;
        let path = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        files.push(FileEntry { path, bytes, crc32 });
    }
    let m = Manifest {
        format: FORMAT,
        step,
        parts,
        files,
    };
    let path = dir.join(MANIFEST);
    let mut f = File::create(&path).with_context(|| path.display().to_string())?;
    f.write_all(serde_json::to_string_pretty(&m)?.as_bytes())?;
    f.sync_all()?;
    sync_dir(dir)?;
    Ok(m)
}

/// Checks `dir` against its manifest; Err says what is wrong (missing manifest, a file
/// missing, of the wrong size or checksum).
pub fn verify(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{MANIFEST}: {e}"))?;
    let m: Manifest =
        serde_json::from_str(&text).map_err(|e| format!("{MANIFEST} is unreadable: {e}"))?;
    if m.format != FORMAT {
        return Err(format!(
            "{MANIFEST}: format {} (this turnwise reads {FORMAT})",
            m.format
        ));
    }
    for f in &m.files {
        let (bytes, crc) = checksum(&dir.join(&f.path)).map_err(|e| format!("{}: {e}", f.path))?;
        if bytes != f.bytes {
            return Err(format!(
                "{}: {bytes} bytes, the manifest says {}",
                f.path, f.bytes
            ));
        }
        if crc != f.crc32 {
            return Err(format!("{}: checksum mismatch", f.path));
        }
    }
    Ok(m)
}
