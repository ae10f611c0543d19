//! The named parts of a checkpoint. Each part writes its own files into the checkpoint
//! folder and says whether its values are finite; a new kind of state (a critic, a value
//! head, LoRA adapters) joins by implementing [`Part`] and loading its files from the
//! verified folder.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::loss::epo::EntropyHistory;
use crate::optim::{all_finite, AdamW};
use crate::policy::Policy;

/// One named part of a checkpoint.
pub trait Part {
    /// The part's name, recorded in the manifest.
    fn name(&self) -> &'static str;
    /// Whether every value is finite (checkpoints are only written from finite values).
    fn is_finite(&self) -> bool;
    /// Writes the part's files into the checkpoint folder `dir`.
    fn save(&self, dir: &Path) -> Result<()>;
}

/// Errs when `policy` holds a non-finite weight (evaluating or resuming it would score
/// garbage).
pub fn check_finite(policy: &Policy, dir: &Path) -> Result<()> {
    anyhow::ensure!(
        all_finite(&policy.parameters()),
        "{}: the policy's weights are not finite (NaN or infinity); the run diverged",
        dir.display()
    );
    Ok(())
}

/// The policy: Hugging Face layout at the top of the folder (`config.json`,
/// `model.safetensors`, tokenizer files), so a checkpoint is itself a model folder.
pub struct PolicyPart<'a>(pub &'a Policy);

impl Part for PolicyPart<'_> {
    fn name(&self) -> &'static str {
        "policy"
    }
    fn is_finite(&self) -> bool {
        all_finite(&self.0.parameters())
    }
    fn save(&self, dir: &Path) -> Result<()> {
        self.0.save(dir)
    }
}

/// File of the AdamW moments.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// AdamW's moments (`m.i`, `v.i` per parameter, in [`Policy::parameters`] order) and the
/// f32 master weights of 16-bit parameters (`w.i`).
pub struct OptimizerPart<'a>(pub &'a AdamW);

impl Part for OptimizerPart<'_> {
    fn name(&self) -> &'static str {
        "optimizer"
    }
    fn is_finite(&self) -> bool {
        let masters: Vec<Tensor> = self
            .0
            .masters
            .iter()
            .flatten()
            .map(Tensor::shallow_clone)
            .collect();
        all_finite(&self.0.m) && all_finite(&self.0.v) && all_finite(&masters)
    }
    fn save(&self, dir: &Path) -> Result<()> {
        let mut named: Vec<(String, Tensor)> = Vec::new();
        for (i, (m, v)) in self.0.m.iter().zip(&self.0.v).enumerate() {
            let host = |t: &Tensor| t.to_device(tch::Device::Cpu);
            named.push((format!("m.{i}"), host(m)));
            named.push((format!("v.{i}"), host(v)));
            if let Some(w) = &self.0.masters[i] {
                named.push((format!("w.{i}"), host(w)));
            }
        }
        Tensor::write_safetensors(&named, dir.join(OPTIMIZER_FILE))?;
        Ok(())
    }
}

/// Restores the moments (and master weights, copied into the parameters) saved by
/// [`OptimizerPart`] into `opt`.
pub fn load_moments(dir: &Path, opt: &mut AdamW) -> Result<()> {
    let saved: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(dir.join(OPTIMIZER_FILE))
            .with_context(|| format!("{}", dir.join(OPTIMIZER_FILE).display()))?
            .into_iter()
            .collect();
    for i in 0..opt.params.len() {
        let dev = opt.params[i].device();
        let get = |k: String| {
            saved
                .get(&k)
                .map(|t| t.to_device(dev))
                .with_context(|| format!("{}: missing `{k}` in {OPTIMIZER_FILE}", dir.display()))
        };
        opt.m[i] = get(format!("m.{i}"))?;
        opt.v[i] = get(format!("v.{i}"))?;
        if opt.masters[i].is_some() {
            let w = get(format!("w.{i}"))?;
            tch::no_grad(|| opt.params[i].copy_(&w));
            opt.masters[i] = Some(w);
        }
    }
    Ok(())
}

/// File of the trainer state.
pub const STATE_FILE: &str = "trainer_state.json";

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

impl Part for TrainerState {
    fn name(&self) -> &'static str {
        "trainer_state"
    }
    fn is_finite(&self) -> bool {
        self.elapsed_s.is_finite()
    }
    fn save(&self, dir: &Path) -> Result<()> {
        std::fs::write(dir.join(STATE_FILE), serde_json::to_string_pretty(self)?)?;
        Ok(())
    }
}

impl TrainerState {
    /// Reads the state saved in checkpoint `dir`.
    pub fn load(dir: &Path) -> Result<TrainerState> {
        let p = dir.join(STATE_FILE);
        serde_json::from_str(&std::fs::read_to_string(&p).with_context(|| p.display().to_string())?)
            .with_context(|| p.display().to_string())
    }
}
