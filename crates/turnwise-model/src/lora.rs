//! LoRA adapters (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models",
//! Eq. 3 and §4.1): `W₀x + (α/r)·B A x` on chosen attention and MLP projections, with the base
//! weights frozen. Adapters can be merged into the weights (`W ← W₀ + (α/r)·BA`), exported as a
//! merged Hugging Face checkpoint ([`crate::model::Policy::save`] always merges), or saved in
//! PEFT's `adapter_model.safetensors` layout.

use crate::error::{ModelError, Result};
use crate::model::linear::Lora;
use crate::model::{add_var, Policy};
use rand::Rng as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tch::{Device, Tensor};

/// The projections an adapter may target (Hugging Face short names).
pub const TARGETS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// Adapter shape and placement.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    /// Rank r.
    pub rank: usize,
    /// Scale numerator α (the update is scaled by α/r).
    pub alpha: f64,
    /// Which projections of every layer get an adapter (subset of [`TARGETS`]).
    pub targets: Vec<String>,
    /// Seed of the A initialisation (Kaiming-uniform, bound 1/√in, as PEFT); B starts at 0.
    pub seed: u64,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            targets: TARGETS.iter().map(|s| s.to_string()).collect(),
            seed: 0,
        }
    }
}

impl Policy {
    /// Freezes every base parameter and attaches trainable adapters
    /// (`<proj>.lora_A.weight`, `<proj>.lora_B.weight` in the var store).
    pub fn add_lora(&mut self, cfg: &LoraConfig) -> Result<()> {
        if cfg.rank == 0 {
            return Err(ModelError::option("lora.rank", "must be positive"));
        }
        if let Some(t) = cfg.targets.iter().find(|t| !TARGETS.contains(&t.as_str())) {
            return Err(ModelError::option(
                "lora.targets",
                format!("unknown projection `{t}` (known: {})", TARGETS.join(", ")),
            ));
        }
        if self.has_lora() {
            return Err(ModelError::option(
                "lora",
                "adapters already attached; merge them first",
            ));
        }
        self.var_store_mut().freeze();
        let (kind, device) = (self.dtype().kind(), self.device());
        let root = self.var_store().root();
        let mut rng = turnwise_core::seed::rng(cfg.seed, 0x10a);
        let r = cfg.rank as i64;
        let scale = cfg.alpha / cfg.rank as f64;
        let on = Arc::new(AtomicBool::new(true));
        let mut adapters = vec![];
        for (li, layer) in self.layers.iter().enumerate() {
            for (short, lin) in layer.linears() {
                if !cfg.targets.iter().any(|t| t == short) {
                    continue;
                }
                let (out, inp) = (lin.weight.size()[0], lin.weight.size()[1]);
                let bound = 1.0 / (inp as f64).sqrt();
                let a: Vec<f32> = (0..r * inp)
                    .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
                    .collect();
                let a = Tensor::f_from_slice(&a)?
                    .f_view([r, inp])?
                    .f_to_kind(kind)?
                    .f_to_device(device)?;
                let b = Tensor::f_zeros([out, r], (kind, device))?;
                let a = add_var(&root, &format!("{}.lora_A.weight", lin.name), a, true);
                let b = add_var(&root, &format!("{}.lora_B.weight", lin.name), b, true);
                let on = on.clone();
                adapters.push((li, short, Lora { a, b, scale, on }));
            }
        }
        self.lora = Some(cfg.clone());
        for (li, short, lora) in adapters {
            for (s, lin) in self.layers[li].linears_mut() {
                if s == short {
                    lin.lora = Some(lora);
                    break;
                }
            }
        }
        Ok(())
    }

    /// Runs `f` with every adapter switched off, i.e. on the base model (the KL reference
    /// of LoRA training, with no second copy of the weights); the adapters are back on when
    /// `f` returns or panics.
    pub fn with_adapters_off<R>(&self, f: impl FnOnce() -> R) -> R {
        struct On(Option<Arc<AtomicBool>>);
        impl Drop for On {
            fn drop(&mut self) {
                if let Some(s) = &self.0 {
                    s.store(true, Ordering::Relaxed);
                }
            }
        }
        let switch = self
            .layers
            .iter()
            .flat_map(|l| l.linears())
            .find_map(|(_, x)| x.lora.as_ref().map(|l| l.on.clone()));
        if let Some(s) = &switch {
            s.store(false, Ordering::Relaxed);
        }
        let _on = On(switch);
        f()
    }

    /// Reads adapters saved by [`Policy::save_lora_adapter`] (PEFT's
    /// `adapter_model.safetensors` in `dir`) into the attached adapters, which must have the
    /// same targets and rank; an error names the file and the missing or misshapen tensor.
    pub fn load_lora_adapter(&mut self, dir: &Path) -> Result<()> {
        let path = dir.join("adapter_model.safetensors");
        let saved: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&path)
            .map_err(|e| ModelError::checkpoint(&path, e.to_string()))?
            .into_iter()
            .collect();
        let mut n = 0;
        for layer in &self.layers {
            for (_, lin) in layer.linears() {
                let Some(l) = &lin.lora else { continue };
                for (part, t) in [("lora_A", &l.a), ("lora_B", &l.b)] {
                    let name = format!("base_model.model.{}.{part}.weight", lin.name);
                    let src = saved.get(&name).ok_or_else(|| {
                        ModelError::checkpoint(&path, format!("missing tensor `{name}`"))
                    })?;
                    if src.size() != t.size() {
                        return Err(ModelError::checkpoint(
                            &path,
                            format!(
                                "`{name}` has shape {:?}, the adapter {:?}",
                                src.size(),
                                t.size()
                            ),
                        ));
                    }
                    let src = src.f_to_kind(t.kind())?.f_to_device(t.device())?;
                    tch::no_grad(|| t.shallow_clone().f_copy_(&src))?;
                    n += 1;
                }
            }
        }
        if n != saved.len() {
            return Err(ModelError::checkpoint(
                &path,
                format!("{} tensors, the attached adapters have {n}", saved.len()),
            ));
        }
        Ok(())
    }

    /// The settings of the attached adapters (None: no adapter, or merged).
    pub fn lora_config(&self) -> Option<&LoraConfig> {
        self.lora.as_ref()
    }

    /// Whether any adapter is attached.
    pub fn has_lora(&self) -> bool {
        self.layers
            .iter()
            .any(|l| l.linears().iter().any(|(_, x)| x.lora.is_some()))
    }

    /// Folds every adapter into its projection (`W ← W + (α/r)·BA`) and detaches it; the
    /// model then computes the same function with no adapter overhead. The adapter tensors
    /// stay in the var store but no longer take part in the forward pass.
    pub fn merge_lora(&mut self) -> Result<()> {
        for layer in &mut self.layers {
            for (_, lin) in layer.linears_mut() {
                if lin.lora.is_some() {
                    let merged = lin.merged_weight()?;
                    tch::no_grad(|| lin.weight.f_copy_(&merged))?;
                    lin.lora = None;
                }
            }
        }
        self.lora = None;
        Ok(())
    }

    /// Saves the adapters in PEFT's layout: `adapter_model.safetensors` with names
    /// `base_model.model.<proj>.lora_{A,B}.weight`, and `adapter_config.json`.
    pub fn save_lora_adapter(&self, dir: &Path, cfg: &LoraConfig) -> Result<()> {
        let mut tensors = vec![];
        for layer in &self.layers {
            for (_, lin) in layer.linears() {
                if let Some(l) = &lin.lora {
                    let p = format!("base_model.model.{}", lin.name);
                    tensors.push((
                        format!("{p}.lora_A.weight"),
                        l.a.f_detach()?.f_to_device(Device::Cpu)?,
                    ));
                    tensors.push((
                        format!("{p}.lora_B.weight"),
                        l.b.f_detach()?.f_to_device(Device::Cpu)?,
                    ));
                }
            }
        }
        if tensors.is_empty() {
            return Err(ModelError::option("lora", "no adapters attached"));
        }
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        crate::checkpoint::write_file(&dir.join("adapter_model.safetensors"), &tensors)?;
        let conf = serde_json::json!({
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": cfg.rank, "lora_alpha": cfg.alpha,
            "target_modules": cfg.targets, "lora_dropout": 0.0, "bias": "none",
            "fan_in_fan_out": false, "inference_mode": true,
        });
        let path = dir.join("adapter_config.json");
        let text = serde_json::to_string_pretty(&conf).expect("json");
        turnwise_core::jsonl::write_atomic(&path, text.as_bytes())
            .map_err(|e| ModelError::checkpoint(&path, e.to_string()))
    }
}

/// Number of trainable elements of a var store (adapters only, once LoRA is attached).
pub fn trainable_elements(vs: &tch::nn::VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .filter(|t| t.requires_grad())
        .map(|t| t.numel() as i64)
        .sum::<i64>()
}
