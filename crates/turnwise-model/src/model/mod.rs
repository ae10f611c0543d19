//! The policy network: a decoder-only transformer in the Llama / Qwen2 / Qwen3 layout whose
//! parameters live in a `tch::nn::VarStore` under their Hugging Face names
//! (`model.embed_tokens.weight`, `model.layers.{i}.self_attn.q_proj.weight`, ...,
//! `lm_head.weight`), so a trainer builds its optimizer from [`Policy::var_store`].

pub mod cache;
pub mod forward;
pub mod layer;
pub mod linear;
pub mod recompute;
pub mod rope;

use crate::checkpoint;
use crate::config::ModelConfig;
use crate::device::DType;
use crate::error::{ModelError, Result};
use layer::{Attention, Block, Mlp};
use linear::Linear;
use rand::Rng as _;
use rope::Rope;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{nn, Device, Kind, Tensor};

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

/// How a parameter starts when it is not read from a checkpoint.
#[derive(Clone, Copy)]
enum Init {
    Normal,
    Ones,
    Zeros,
}

/// Where parameters come from: a seeded initialiser or a checkpoint's tensors.
enum Source<'a> {
    Random {
        rng: Box<turnwise_core::seed::Rng>,
        std: f64,
    },
    Checkpoint {
        tensors: &'a mut HashMap<String, Tensor>,
        dir: &'a Path,
    },
}

impl Source<'_> {
    fn take(&mut self, name: &str, shape: &[i64], init: Init) -> Result<Tensor> {
        match self {
            Source::Random { rng, std } => {
                let n: i64 = shape.iter().product();
                let t = match init {
                    Init::Ones => Tensor::f_ones(shape, (Kind::Float, Device::Cpu))?,
                    Init::Zeros => Tensor::f_zeros(shape, (Kind::Float, Device::Cpu))?,
                    Init::Normal => {
                        let v: Vec<f32> = (0..n).map(|_| (normal(rng) * *std) as f32).collect();
                        Tensor::f_from_slice(&v)?.f_view(shape)?
                    }
                };
                Ok(t)
            }
            Source::Checkpoint { tensors, dir } => {
                let t = tensors.remove(name).ok_or_else(|| {
                    ModelError::checkpoint(*dir, format!("missing tensor `{name}`"))
                })?;
                if t.size() != shape {
                    return Err(ModelError::checkpoint(
                        *dir,
                        format!(
                            "tensor `{name}` has shape {:?}, config.json implies {shape:?}",
                            t.size()
                        ),
                    ));
                }
                Ok(t)
            }
        }
    }
}

/// A standard normal draw (Box–Muller), so initialisation depends only on the seed.
fn normal(rng: &mut turnwise_core::seed::Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
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
        let mut param = |name: &str, shape: &[i64], init: Init| -> Result<Tensor> {
            let t = src.take(name, shape, init)?;
            let t = t.f_to_kind(kind)?.f_to_device(device)?;
            Ok(add_var(&root, name, t, true))
        };
        let embed = param("model.embed_tokens.weight", &[v, d], Init::Normal)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let qk_norm = if config.qk_norm() {
                Some((
                    param(&format!("{p}.self_attn.q_norm.weight"), &[hd], Init::Ones)?,
                    param(&format!("{p}.self_attn.k_norm.weight"), &[hd], Init::Ones)?,
                ))
            } else {
                None
            };
            let mut lin = |n: &str, out: i64, inp: i64, bias: bool| -> Result<Linear> {
                let name = format!("{p}.{n}");
                let weight = param(&format!("{name}.weight"), &[out, inp], Init::Normal)?;
                let bias = if bias {
                    Some(param(&format!("{name}.bias"), &[out], Init::Zeros)?)
                } else {
                    None
                };
                Ok(Linear {
                    name,
                    weight,
                    bias,
                    lora: None,
                })
            };
            let attn = Attention {
                q_proj: lin("self_attn.q_proj", h * hd, d, biases.qkv)?,
                k_proj: lin("self_attn.k_proj", kv * hd, d, biases.qkv)?,
                v_proj: lin("self_attn.v_proj", kv * hd, d, biases.qkv)?,
                o_proj: lin("self_attn.o_proj", d, h * hd, biases.o)?,
                heads: h,
                kv_heads: kv,
                head_dim: hd,
                qk_norm,
                eps: config.rms_norm_eps,
            };
            let mlp = Mlp {
                gate_proj: lin("mlp.gate_proj", f, d, biases.mlp)?,
                up_proj: lin("mlp.up_proj", f, d, biases.mlp)?,
                down_proj: lin("mlp.down_proj", d, f, biases.mlp)?,
            };
            let input_norm = param(&format!("{p}.input_layernorm.weight"), &[d], Init::Ones)?;
            let post_norm = param(
                &format!("{p}.post_attention_layernorm.weight"),
                &[d],
                Init::Ones,
            )?;
            layers.push(Block {
                input_norm,
                attn,
                post_norm,
                mlp,
            });
        }
        let norm = param("model.norm.weight", &[d], Init::Ones)?;
        let lm_head = if config.tie_word_embeddings {
            None
        } else {
            Some(Linear {
                name: "lm_head".into(),
                weight: param("lm_head.weight", &[v, d], Init::Normal)?,
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
