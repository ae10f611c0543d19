//! The policy network: a decoder-only transformer in the Llama / Qwen2 / Qwen3 layout whose
//! parameters live in a `tch::nn::VarStore` under their Hugging Face names
//! (`model.embed_tokens.weight`, `model.layers.{i}.self_attn.q_proj.weight`, ...,
//! `lm_head.weight`), so a trainer builds its optimizer from [`Policy::var_store`].

pub mod cache;
pub mod forward;
pub mod fused;
pub mod layer;
pub mod linear;
pub mod recompute;
pub mod rope;
pub mod skinny;
mod source;
pub mod step;

use crate::checkpoint;
use crate::config::ModelConfig;
use crate::device::DType;
use crate::error::{ModelError, Result};
use layer::{Attention, Block, Mlp};
use linear::Linear;
use rope::Rope;
use source::{pop, Init, Source};
use std::path::{Path, PathBuf};
use tch::{nn, Device, Tensor};

/// A causal language model (the policy π_θ) on one device.
pub struct Policy {
    /// Its configuration (`config.json`).
    pub config: ModelConfig,
    vs: nn::VarStore,
    dtype: DType,
    pub(crate) embed: Tensor,
    pub(crate) layers: Vec<Block>,
    pub(crate) norm: Tensor,
    pub(crate) lm_head: Option<Linear>,
    pub(crate) rope: Rope,
    /// The attached adapters' settings ([`Policy::add_lora`]).
    pub(crate) lora: Option<crate::lora::LoraConfig>,
    /// Activation checkpointing ([`recompute`]).
    pub(crate) checkpointing: bool,
    /// Checkpointed forward passes awaiting [`Policy::backward`].
    pub(crate) pending: std::sync::Mutex<Vec<recompute::Pending>>,
}

/// Adds a variable under a dotted Hugging Face name (`a.b.weight` → path a/b, name weight).
pub(crate) fn add_var(root: &nn::Path, name: &str, t: Tensor, trainable: bool) -> Tensor {
    let mut parts: Vec<&str> = name.split('.').collect();
    let last = parts.pop().unwrap_or(name);
    let mut p = None::<nn::Path>;
    for part in parts {
        p = Some(match p {
            None => root.sub(part),
            Some(q) => q.sub(part),
        });
    }
    match p {
        None => root.add(last, t, trainable),
        Some(q) => q.add(last, t, trainable),
    }
}

impl Policy {
    /// A freshly initialised model (weights ~ N(0, `initializer_range`²), norm gains 1,
    /// biases 0, as `transformers`' `_init_weights`), deterministic in `seed`.
    pub fn new(config: ModelConfig, device: Device, dtype: DType, seed: u64) -> Result<Self> {
        let std = config.initializer_range;
        let src = Source::Random {
            rng: Box::new(turnwise_core::seed::rng(seed, 0x1417)),
            std,
        };
        Self::build(config, device, dtype, src)
    }

    /// Loads a Hugging Face folder (`config.json` + `model.safetensors` or shards) or a GGUF
    /// file (quantised tensors dequantised, then converted to `dtype`).
    pub fn load(dir: &Path, device: Device, dtype: DType) -> Result<Self> {
        let (config, mut tensors) = if crate::gguf::is_gguf(dir) {
            let file = crate::gguf::GgufFile::open(dir)?;
            let config = crate::gguf::model::config(&file)?;
            let tensors = crate::gguf::model::tensors(&file, &config)?;
            (config, tensors)
        } else {
            let config = ModelConfig::from_file(&dir.join("config.json"))?;
            (config, checkpoint::read_dir(dir)?)
        };
        let policy = Self::build(
            config,
            device,
            dtype,
            Source::Checkpoint {
                tensors: &mut tensors,
                dir,
            },
        )?;
        let tied = policy.config.tie_word_embeddings;
        let mut left: Vec<_> = tensors
            .keys()
            .filter(|n| !(n.ends_with("rotary_emb.inv_freq") || tied && *n == "lm_head.weight"))
            .cloned()
            .collect();
        left.sort();
        if let Some(n) = left.first() {
            return Err(ModelError::checkpoint(
                dir,
                format!(
                    "unexpected tensor `{n}` ({} unused in all); config.json does not describe this checkpoint",
                    left.len()
                ),
            ));
        }
        Ok(policy)
    }

    fn build(config: ModelConfig, device: Device, dtype: DType, mut src: Source) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let kind = dtype.kind();
        let root = vs.root();
        let (d, v) = (config.hidden_size as i64, config.vocab_size as i64);
        let (h, kv, hd) = (
            config.num_attention_heads as i64,
            config.num_kv_heads() as i64,
            config.head_dim() as i64,
        );
        let f = config.intermediate_size as i64;
        let biases = config.biases();
        let opts = (kind, device);
        let embed = src.param(
            &root,
            "model.embed_tokens.weight",
            &[v, d],
            Init::Normal,
            opts,
        )?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let qk_norm = if config.qk_norm() {
                Some((
                    src.param(
                        &root,
                        &format!("{p}.self_attn.q_norm.weight"),
                        &[hd],
                        Init::Ones,
                        opts,
                    )?,
                    src.param(
                        &root,
                        &format!("{p}.self_attn.k_norm.weight"),
                        &[hd],
                        Init::Ones,
                        opts,
                    )?,
                ))
            } else {
                None
            };
            let qkv_parts = [
                ("self_attn.q_proj", h * hd),
                ("self_attn.k_proj", kv * hd),
                ("self_attn.v_proj", kv * hd),
            ];
            let (qkv, mut l) = src.group(&root, &p, &qkv_parts, d, biases.qkv, opts)?;
            let (v_proj, k_proj, q_proj) = (pop(&mut l), pop(&mut l), pop(&mut l));
            let o_proj = src.linear(
                &root,
                &format!("{p}.self_attn.o_proj"),
                d,
                h * hd,
                biases.o,
                opts,
            )?;
            let mlp_parts = [("mlp.gate_proj", f), ("mlp.up_proj", f)];
            let (gate_up, mut l) = src.group(&root, &p, &mlp_parts, d, biases.mlp, opts)?;
            let (up_proj, gate_proj) = (pop(&mut l), pop(&mut l));
            let down_proj =
                src.linear(&root, &format!("{p}.mlp.down_proj"), d, f, biases.mlp, opts)?;
            let attn = Attention {
                q_proj,
                k_proj,
                v_proj,
                o_proj,
                qkv,
                heads: h,
                kv_heads: kv,
                head_dim: hd,
                qk_norm,
                eps: config.rms_norm_eps,
            };
            let mlp = Mlp {
                gate_proj,
                up_proj,
                down_proj,
                gate_up,
            };
            let input_norm = src.param(
                &root,
                &format!("{p}.input_layernorm.weight"),
                &[d],
                Init::Ones,
                opts,
            )?;
            let post_norm = src.param(
                &root,
                &format!("{p}.post_attention_layernorm.weight"),
                &[d],
                Init::Ones,
                opts,
            )?;
            layers.push(Block {
                input_norm,
                attn,
                post_norm,
                mlp,
            });
        }
        let norm = src.param(&root, "model.norm.weight", &[d], Init::Ones, opts)?;
        let lm_head = if config.tie_word_embeddings {
            None
        } else {
            Some(Linear {
                name: "lm_head".into(),
                weight: src.param(&root, "lm_head.weight", &[v, d], Init::Normal, opts)?,
                bias: None,
                lora: None,
            })
        };
        let spec = config
            .rope()
            .map_err(|(field, message)| ModelError::Config {
                path: "config.json".into(),
                field,
                message,
            })?;
        let rope = Rope::new(&spec, hd, device)?;
        Ok(Policy {
            config,
            vs,
            dtype,
            embed,
            layers,
            norm,
            lm_head,
            rope,
            lora: None,
            checkpointing: false,
            pending: Default::default(),
        })
    }

    /// The variable store holding every parameter (base weights and LoRA adapters), for
    /// building an optimizer (`nn::AdamW::default().build(policy.var_store(), lr)`).
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// Mutable access to the variable store (freeze/unfreeze, optimizer building).
    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    /// The device the parameters live on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// The parameter dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Every parameter of the base model under its Hugging Face name, with LoRA adapters
    /// merged into their projections (`W + (α/r)·BA`); what [`Policy::save`] writes.
    pub fn export_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = vec![(
            "model.embed_tokens.weight".to_string(),
            self.embed.f_detach()?,
        )];
        for (i, b) in self.layers.iter().enumerate() {
            let p = format!("model.layers.{i}");
            out.push((
                format!("{p}.input_layernorm.weight"),
                b.input_norm.f_detach()?,
            ));
            out.push((
                format!("{p}.post_attention_layernorm.weight"),
                b.post_norm.f_detach()?,
            ));
            if let Some((q, k)) = &b.attn.qk_norm {
                out.push((format!("{p}.self_attn.q_norm.weight"), q.f_detach()?));
                out.push((format!("{p}.self_attn.k_norm.weight"), k.f_detach()?));
            }
            for (_, l) in b.linears() {
                out.push((format!("{}.weight", l.name), l.merged_weight()?));
                if let Some(bias) = &l.bias {
                    out.push((format!("{}.bias", l.name), bias.f_detach()?));
                }
            }
        }
        out.push(("model.norm.weight".to_string(), self.norm.f_detach()?));
        if let Some(h) = &self.lm_head {
            out.push(("lm_head.weight".to_string(), h.merged_weight()?));
        }
        Ok(out)
    }

    /// Saves a Hugging Face folder: `config.json` and the (LoRA-merged) weights, sharded
    /// when larger than `max_shard_bytes` (`transformers` uses 5 GB by default).
    pub fn save_sharded(&self, dir: &Path, max_shard_bytes: usize) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        let tensors = self.export_tensors()?;
        checkpoint::write_dir(dir, &tensors, max_shard_bytes)?;
        let path: PathBuf = dir.join("config.json");
        turnwise_core::jsonl::write_atomic(
            &path,
            self.config.to_json(self.dtype.hf_name()).as_bytes(),
        )
        .map_err(|e| ModelError::checkpoint(&path, e.to_string()))
    }

    /// [`Policy::save_sharded`] with 5 GB shards.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.save_sharded(dir, 5_000_000_000)
    }
}
