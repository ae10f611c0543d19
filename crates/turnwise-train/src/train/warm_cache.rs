//! Shared SFT warm starts (`sft.cache`). The warm start depends on the run seed, the
//! environment, the model, the demonstrations and the SFT settings, not on the credit
//! method or the RL loss; runs that differ only in those (the cells of one seed in
//! `turnwise compare`) would each repeat the same SFT and get the same weights bit for bit.
//! With `sft.cache = DIR` the first such run stores its warm start (weights, tokenizer and
//! the warm-start metrics line) in `DIR/<key>/`; the others load it instead of training.
//!
//! The key is the SHA-256 of the run's resolved configuration with the keys that the warm
//! start never reads reset to their defaults ([`sft_inputs`]): `credit`, `loss`,
//! `checkpoint`, `run.out`, `run.steps`, `run.time_budget_s`, `run.max_bad_steps`,
//! `eval.every` and `sft.cache` itself; the contents of an `sft.demos` file are added to it.
//! Every other key (including `curricula`, which can
//! change the vocabulary, and `critic`) is part of the key, so a configuration the warm
//! start might depend on never shares one. The entry keeps `key.toml` (that configuration)
//! and is used only when it equals the run's. ASSUMPTION: the cache is tied to the binary
//! that wrote it; entries written by another turnwise version are not detected (the
//! folder's `version` file names the writer's version, and a mismatch is refused).
//!
//! Runs that share a key take `DIR/<key>.lock` (an exclusive file lock) from lookup to
//! store, so two concurrent runs of the same seed train once; runs of different keys do
//! not wait for each other. An entry is written into a temporary folder and renamed.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::policy::Policy;

/// The entry's configuration file.
const KEY_FILE: &str = "key.toml";
/// The entry's warm-start metrics line.
const LINE_FILE: &str = "warm_start.json";
/// The entry's weights and tokenizer.
const POLICY_DIR: &str = "warm_start";
/// The version of turnwise that wrote the entry.
const VERSION_FILE: &str = "version";

/// `cfg` with the keys the warm start never reads reset to their defaults (see the module
/// doc): two configurations with equal `sft_inputs` have the same warm start.
pub fn sft_inputs(cfg: &Config) -> Config {
    let d = Config::default();
    let mut c = cfg.clone();
    c.credit = d.credit;
    c.loss = d.loss;
    c.checkpoint = d.checkpoint;
    c.run.out = d.run.out;
    c.run.steps = d.run.steps;
    c.run.time_budget_s = d.run.time_budget_s;
    c.run.max_bad_steps = d.run.max_bad_steps;
    c.eval.every = d.eval.every;
    c.sft.cache = d.sft.cache;
    c
}

/// The cache slot of one run: its entry folder, held under the key's lock until dropped.
pub struct Slot {
    entry: PathBuf,
    key: String,
    _lock: File,
}

/// A stored warm start.
pub struct Stored {
    /// Its weights and tokenizer (a folder [`Policy::load_on`] reads).
    pub policy_dir: PathBuf,
    /// The `warm_start` metrics line of the run that trained it.
    pub line: Value,
}

impl Slot {
    /// Opens the slot of `cfg` when `sft.cache` is set and SFT is on (None otherwise):
    /// creates the cache folder and waits for the key's lock.
    pub fn open(cfg: &Config) -> Result<Option<Slot>> {
        if !cfg.sft.enabled || cfg.sft.cache.is_empty() {
            return Ok(None);
        }
        let root = Path::new(&cfg.sft.cache);
        std::fs::create_dir_all(root)
            .with_context(|| format!("sft.cache: creating {}", root.display()))?;
        let mut key = toml::to_string(&sft_inputs(cfg))?;
        if !cfg.sft.demos.is_empty() {
            // The demonstrations file is named by path: its contents are part of the key.
            let bytes = std::fs::read(&cfg.sft.demos)
                .with_context(|| format!("sft.demos: reading {}", cfg.sft.demos))?;
            key.push_str(&format!(
                "# sft.demos sha256 {:x}\n",
                Sha256::digest(&bytes)
            ));
        }
        let hash: String = Sha256::digest(key.as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let lock_path = root.join(format!("{hash}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("sft.cache: opening {}", lock_path.display()))?;
        fs4::FileExt::lock(&lock)
            .with_context(|| format!("sft.cache: locking {}", lock_path.display()))?;
        Ok(Some(Slot {
            entry: root.join(hash),
            key,
            _lock: lock,
        }))
    }

    /// The stored warm start of this key, if a complete entry exists. An entry whose
    /// configuration or writer differs is an error naming it (never a silent reuse).
    pub fn stored(&self) -> Result<Option<Stored>> {
        let key_file = self.entry.join(KEY_FILE);
        if !key_file.is_file() {
            return Ok(None);
        }
        let stored_key = std::fs::read_to_string(&key_file)
            .with_context(|| format!("sft.cache: reading {}", key_file.display()))?;
        if stored_key != self.key {
            bail!(
                "sft.cache: {} holds another configuration's warm start (a hash collision or an edited entry); remove {}",
                key_file.display(),
                self.entry.display()
            );
        }
        let version = std::fs::read_to_string(self.entry.join(VERSION_FILE)).unwrap_or_default();
        if version.trim() != env!("CARGO_PKG_VERSION") {
            bail!(
                "sft.cache: {} was written by turnwise {:?}, this is {}; remove it or use another sft.cache",
                self.entry.display(),
                version.trim(),
                env!("CARGO_PKG_VERSION")
            );
        }
        let line_file = self.entry.join(LINE_FILE);
        let line: Value = serde_json::from_str(
            &std::fs::read_to_string(&line_file)
                .with_context(|| format!("sft.cache: reading {}", line_file.display()))?,
        )
        .with_context(|| format!("sft.cache: {} is not JSON", line_file.display()))?;
        Ok(Some(Stored {
            policy_dir: self.entry.join(POLICY_DIR),
            line,
        }))
    }

    /// Stores `policy` (just trained) and its warm-start metrics line as this key's entry,
    /// atomically (a temporary folder renamed into place).
    pub fn store(&self, policy: &Policy, line: &Value) -> Result<()> {
        // Replaces an incomplete entry left by a killed run (no key file): nothing to keep.
        super::run::replace_dir_atomic(&self.entry, |tmp| {
            std::fs::create_dir_all(tmp)?;
            policy.save(&tmp.join(POLICY_DIR))?;
            std::fs::write(tmp.join(LINE_FILE), serde_json::to_string(line)?)?;
            std::fs::write(tmp.join(VERSION_FILE), env!("CARGO_PKG_VERSION"))?;
            // The key last: an entry without it is incomplete and is never read.
            std::fs::write(tmp.join(KEY_FILE), &self.key)?;
            Ok(())
        })
        .with_context(|| format!("sft.cache: storing {}", self.entry.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_and_loss_do_not_change_the_key_but_seed_model_and_sft_do() {
        let base = Config::default();
        let key = |c: &Config| toml::to_string(&sft_inputs(c)).unwrap();
        let mut other = base.clone();
        other.credit.method = "trloo".into();
        other.loss.clip_low = 0.1;
        other.run.steps = 7;
        other.run.out = "elsewhere".into();
        other.sft.cache = "/tmp/x".into();
        assert_eq!(key(&base), key(&other));
        for change in [
            |c: &mut Config| c.run.seed += 1,
            |c: &mut Config| c.model.d_model *= 2,
            |c: &mut Config| c.sft.steps += 1,
            |c: &mut Config| c.env.name = "lmrl/wordle".into(),
            |c: &mut Config| c.curricula.slea = !c.curricula.slea,
            |c: &mut Config| c.run.threads += 1,
        ] {
            let mut c = base.clone();
            change(&mut c);
            assert_ne!(key(&base), key(&c));
        }
    }
}
