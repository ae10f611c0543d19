//! Checkpoints: `checkpoints/step-NNNNNN/` holds named parts ([`parts`]): the policy in the
//! Hugging Face layout (`config.json`, `model.safetensors`, tokenizer files),
//! `optimizer.safetensors` (AdamW moments) and `trainer_state.json` (step, counters, EPO
//! history), then `manifest.json` ([`manifest`]) listing every file with its size and
//! CRC-32. `step-000000` is the start of RL (the warm start, or the initial weights).
//!
//! A checkpoint is written into `.tmp-step-NNNNNN-PID/`, synced, given its manifest and
//! renamed into place, so a kill at any moment leaves every `step-*` folder intact. Old
//! checkpoints are renamed to `.trash-*` before they are deleted, and only after the new
//! one is in place. Readers take the newest folder that verifies against its manifest
//! ([`scan`]), so a damaged one costs the steps since the previous.

pub mod manifest;
pub mod parts;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use parts::{check_finite, Part, TrainerState};

use crate::optim::AdamW;
use crate::policy::Policy;

/// The folder of the checkpoint after `step`.
pub fn dir_of(run: &Path, step: u64) -> PathBuf {
    run.join("checkpoints").join(format!("step-{step:06}"))
}

/// The step of a `step-NNNNNN` folder name.
fn step_of(dir: &Path) -> Option<u64> {
    dir.file_name()?
        .to_str()?
        .strip_prefix("step-")?
        .parse()
        .ok()
}

/// Renames `dir` to a `.trash-*` sibling, then deletes it (a kill in between leaves only
/// the `.trash-*` folder, which the next start removes).
fn discard(dir: &Path) -> Result<()> {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    let trash = dir.with_file_name(format!(".trash-{name}-{}", std::process::id()));
    std::fs::rename(dir, &trash).with_context(|| format!("moving {} aside", dir.display()))?;
    std::fs::remove_dir_all(&trash).with_context(|| format!("deleting {}", trash.display()))
}

/// Writes the checkpoint of `step` from `parts` and prunes older ones to the newest
/// `keep` (the new one included). Refuses parts with non-finite values. A checkpoint of
/// `step` that is already in place and intact is kept as it is.
pub fn save(run: &Path, step: u64, parts: &[&dyn Part], keep: usize) -> Result<PathBuf> {
    for p in parts {
        anyhow::ensure!(
            p.is_finite(),
            "not saving the checkpoint of step {step}: the {} holds non-finite values",
            p.name()
        );
    }
    let root = run.join("checkpoints");
    std::fs::create_dir_all(&root).with_context(|| root.display().to_string())?;
    let fin = dir_of(run, step);
    if !(fin.exists() && manifest::verify(&fin).is_ok()) {
        let tmp = root.join(format!(".tmp-step-{step:06}-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir(&tmp).with_context(|| tmp.display().to_string())?;
        for p in parts {
            p.save(&tmp)
                .with_context(|| format!("saving the {} of step {step}", p.name()))?;
        }
        manifest::write(
            &tmp,
            step,
            parts.iter().map(|p| p.name().to_owned()).collect(),
        )?;
        if fin.exists() {
            // A damaged folder of the same step: the new one replaces it.
            discard(&fin)?;
        }
        std::fs::rename(&tmp, &fin)
            .with_context(|| format!("renaming {} to {}", tmp.display(), fin.display()))?;
        manifest::sync_dir(&root)?;
    }
    prune(run, step, keep)?;
    Ok(fin)
}

/// Deletes checkpoints older than `step` beyond the newest `keep` (counting `step`'s).
fn prune(run: &Path, step: u64, keep: usize) -> Result<()> {
    let older: Vec<PathBuf> = list(run)?
        .into_iter()
        .filter(|d| step_of(d).is_some_and(|s| s < step))
        .collect();
    let excess = (older.len() + 1).saturating_sub(keep.max(1));
    for d in older.iter().take(excess) {
        discard(d)?;
    }
    Ok(())
}

/// Checkpoint folders (`step-*`), oldest first; not verified.
pub fn list(run: &Path) -> Result<Vec<PathBuf>> {
    let root = run.join("checkpoints");
    if !root.exists() {
        return Ok(vec![]);
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .with_context(|| root.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| step_of(p).is_some() && p.is_dir())
        .collect();
    v.sort_by_key(|p| step_of(p));
    Ok(v)
}

/// What [`scan`] found in a run's checkpoints.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// The newest checkpoint that verifies against its manifest, with its step.
    pub intact: Option<(PathBuf, u64)>,
    /// Newer folders that failed verification, with the reason, newest first.
    pub damaged: Vec<(PathBuf, String)>,
}

impl Scan {
    /// One warning line per damaged checkpoint passed over.
    pub fn warnings(&self) -> Vec<String> {
        let instead = match &self.intact {
            Some((d, _)) => format!("using {} instead", d.display()),
            None => "no intact checkpoint is left".into(),
        };
        self.damaged
            .iter()
            .map(|(d, why)| {
                format!(
                    "warning: checkpoint {} is damaged ({why}); {instead}",
                    d.display()
                )
            })
            .collect()
    }
}

/// Verifies the checkpoints of `run` from the newest down to the first intact one.
pub fn scan(run: &Path) -> Result<Scan> {
    let mut s = Scan::default();
    for dir in list(run)?.into_iter().rev() {
        match manifest::verify(&dir) {
            Ok(m) => {
                s.intact = Some((dir, m.step));
                break;
            }
            Err(why) => s.damaged.push((dir, why)),
        }
    }
    Ok(s)
}

/// Moves a damaged checkpoint out of the way (to `checkpoints/damaged-step-NNNNNN[-k]`),
/// keeping its files for inspection; returns the new path.
pub fn quarantine(dir: &Path) -> Result<PathBuf> {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    let mut k = 0;
    let to = loop {
        let cand = dir.with_file_name(match k {
            0 => format!("damaged-{name}"),
            _ => format!("damaged-{name}-{k}"),
        });
        if !cand.exists() {
            break cand;
        }
        k += 1;
    };
    std::fs::rename(dir, &to).with_context(|| format!("moving {} aside", dir.display()))?;
    Ok(to)
}

/// Removes a file or a folder with its contents.
pub(crate) fn remove_entry(p: &Path) -> Result<()> {
    if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    }
    .with_context(|| format!("removing {}", p.display()))
}

/// Removes what a killed writer left in `run/checkpoints` (`.tmp-*`, `.trash-*`);
/// returns how many were removed. Call it only while holding the run's lock.
pub fn clean_temporaries(run: &Path) -> Result<usize> {
    let root = run.join("checkpoints");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(0);
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") || name.starts_with(".trash-") {
            remove_entry(&e.path())?;
            n += 1;
        }
    }
    Ok(n)
}

/// Loads the policy, optimiser moments and state of checkpoint `dir` (verify it first
/// with [`scan`] or [`manifest::verify`]); refuses non-finite weights.
pub fn load(dir: &Path, cfg: &crate::config::Config) -> Result<(Policy, AdamW, TrainerState)> {
    let opt_cfg = &cfg.optim;
    let place = crate::policy::Placement::of(cfg)?;
    let policy = match &cfg.model.lora {
        None => Policy::load_on(dir, place)?,
        Some(l) => {
            // The frozen base from model.path, the trained adapters from the checkpoint
            // (its merged weights would make the base, and the KL reference, drift).
            let base = Path::new(&cfg.model.path);
            let mut p = Policy::load_on(base, place)
                .with_context(|| format!("model.path {} (LoRA base)", base.display()))?;
            p.model.add_lora(&l.model(cfg.run.seed))?;
            p.model.load_lora_adapter(dir)?;
            p
        }
    };
    check_finite(&policy, dir)?;
    let state = TrainerState::load(dir)?;
    let mut opt = AdamW::new(
        policy.parameters(),
        opt_cfg.beta1,
        opt_cfg.beta2,
        opt_cfg.eps,
        opt_cfg.weight_decay,
    );
    parts::load_moments(dir, &mut opt)?;
    opt.step = state.opt_step;
    Ok((policy, opt, state))
}

#[cfg(test)]
mod tests;
