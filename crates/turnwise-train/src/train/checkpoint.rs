//! Checkpoints: `checkpoints/step-NNNNNN/` holds the policy in the Hugging Face layout
//! (`config.json`, `model.safetensors`, `tokenizer.json`), `optimizer.safetensors` (AdamW
//! moments) and `trainer_state.json` (step, optimiser step, counters, EPO history). A
//! checkpoint is written into a temporary folder and renamed into place, so a crash leaves
//! the previous one intact; only the last `keep` are kept.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::loss::epo::EntropyHistory;
use crate::optim::AdamW;
use crate::policy::Policy;

/// Everything besides weights and moments that a resumed run needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// RL steps completed.
    pub step: u64,
    /// AdamW updates applied.
    pub opt_step: u64,
    /// Consecutive skipped updates.
    pub bad_steps: u32,
    /// Wall-clock seconds used before this checkpoint.
    pub elapsed_s: f64,
    /// EPO entropy history.
    pub epo: Option<EntropyHistory>,
}

/// The folder of the checkpoint after `step`.
pub fn dir_of(run: &Path, step: u64) -> PathBuf {
    run.join("checkpoints").join(format!("step-{step:06}"))
}

/// Writes a checkpoint atomically and prunes old ones.
pub fn save(
    run: &Path,
    policy: &Policy,
    opt: &AdamW,
    state: &TrainerState,
    keep: usize,
) -> Result<PathBuf> {
    let root = run.join("checkpoints");
    std::fs::create_dir_all(&root)?;
    let fin = dir_of(run, state.step);
    let tmp = root.join(format!(
        ".tmp-step-{:06}-{}",
        state.step,
        std::process::id()
    ));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    policy.save(&tmp)?;
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (i, (m, v)) in opt.m.iter().zip(&opt.v).enumerate() {
        named.push((format!("m.{i}"), m.shallow_clone()));
        named.push((format!("v.{i}"), v.shallow_clone()));
    }
    Tensor::write_safetensors(&named, tmp.join("optimizer.safetensors"))?;
    std::fs::write(
        tmp.join("trainer_state.json"),
        serde_json::to_string_pretty(state)?,
    )?;
    if fin.exists() {
        std::fs::remove_dir_all(&fin)?;
    }
    std::fs::rename(&tmp, &fin)?;
    let mut all = list(run)?;
    while all.len() > keep.max(1) {
        std::fs::remove_dir_all(all.remove(0))?;
    }
    Ok(fin)
}

/// Completed checkpoints, oldest first.
pub fn list(run: &Path) -> Result<Vec<PathBuf>> {
    let root = run.join("checkpoints");
    if !root.exists() {
        return Ok(vec![]);
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("step-"))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Loads the policy, optimiser moments and state of checkpoint `dir`.
pub fn load(
    dir: &Path,
    opt_cfg: &crate::config::OptimConfig,
) -> Result<(Policy, AdamW, TrainerState)> {
    let policy = Policy::load(dir)?;
    let state: TrainerState = serde_json::from_str(
        &std::fs::read_to_string(dir.join("trainer_state.json"))
            .with_context(|| format!("{}", dir.display()))?,
    )
    .with_context(|| format!("{}/trainer_state.json", dir.display()))?;
    let mut opt = AdamW::new(
        policy.parameters(),
        opt_cfg.beta1,
        opt_cfg.beta2,
        opt_cfg.eps,
        opt_cfg.weight_decay,
    );
    let saved: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(dir.join("optimizer.safetensors"))?
            .into_iter()
            .collect();
    let n = opt.params.len();
    for i in 0..n {
        let get = |k: String| {
            saved.get(&k).map(|t| t.shallow_clone()).with_context(|| {
                format!("{}: missing `{k}` in optimizer.safetensors", dir.display())
            })
        };
        opt.m[i] = get(format!("m.{i}"))?;
        opt.v[i] = get(format!("v.{i}"))?;
    }
    opt.step = state.opt_step;
    Ok((policy, opt, state))
}
