//! The configuration sections (`docs/training.md` has the reference with defaults).

use serde::{Deserialize, Serialize};

use crate::loss::disco::Scoring;
use crate::loss::{AggMode, EpoConfig, KlKind, RatioKind};

/// The whole configuration of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Seeds, output folder, length and budgets.
    pub run: RunConfig,
    /// The environment and how episodes are grouped.
    pub env: EnvConfig,
    /// The policy model and tokenizer.
    pub model: ModelConfig,
    /// Sampling during rollouts.
    pub sampling: SamplingConfig,
    /// The credit-assignment method.
    pub credit: CreditConfig,
    /// The policy objective.
    pub loss: LossConfig,
    /// The optimiser and its schedule.
    pub optim: OptimConfig,
    /// The supervised warm start.
    pub sft: SftConfig,
    /// Checkpointing.
    pub checkpoint: CheckpointConfig,
    /// Evaluation.
    pub eval: EvalConfig,
    /// What the trainer samples and remembers (dynamic sampling, …).
    pub curricula: super::CurriculaConfig,
    /// The critic of critic-based credit methods.
    pub critic: super::critic::CriticConfig,
}

/// `[run]`: seeds, output, length and budgets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Run seed: every random stream (init, sampling, task seeds) derives from it.
    pub seed: u64,
    /// Run folder (config, metrics, checkpoints); `--out` overrides it.
    pub out: String,
    /// Number of RL steps (one step = one batch of groups, credit, PPO epochs).
    pub steps: u64,
    /// Wall-clock budget of the whole job in seconds (0: none); the run stops and saves when spent.
    pub time_budget_s: f64,
    /// Stop after this many consecutive skipped (non-finite) updates.
    pub max_bad_steps: u32,
    /// Torch intra-op threads (0: libtorch's default).
    pub threads: usize,
    /// Where the policy, reference and critic run: `cpu`, `cuda` (GPU 0) or `cuda:N`.
    pub device: String,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            seed: 0,
            out: "runs/maze".into(),
            steps: 100,
            time_budget_s: 0.0,
            max_bad_steps: 5,
            threads: 0,
            device: "cpu".into(),
        }
    }
}

/// How past turns enter the policy's context (`environments.md` §10.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HistoryMode {
    /// The whole episode so far (context grows each turn; token ids are extended, never re-tokenised).
    Full,
    /// Only the last `history_k` turns before the current observation.
    LastK,
    /// MEM1 (Zhou et al. 2025): the task's first observation, the previous action (which
    /// carries the agent's internal state) and the current observation; everything older
    /// is consolidated away, so the context stays bounded however long the episode.
    Mem1,
}

/// `[env]`: the environment and how episodes are grouped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvConfig {
    /// Registered environment name (`turnwise env list`).
    pub name: String,
    /// Environment options (`KEY = VALUE`), passed to the registry.
    pub options: toml::Table,
    /// G: episodes per task seed (one group).
    pub group_size: usize,
    /// Task seeds (groups) per RL step.
    pub tasks_per_step: usize,
    /// Turn budget per episode; an episode that reaches it is truncated.
    pub max_turns: usize,
    /// History mode: `full` or `last-k`.
    pub history: HistoryMode,
    /// k for `last-k` (0: the current observation only, i.e. step-independent).
    pub history_k: usize,
    /// `text` (observations and actions as raw text) or `chat` (the model's chat template:
    /// a system message, user observations, assistant actions; needs `history = "full"`).
    pub format: crate::rollout::Format,
    /// Episodes per step an environment may fail (a remote server that died or timed out)
    /// before the run stops; failed episodes are recorded in `failed_episodes.jsonl` and
    /// left out of the update.
    pub max_failed_episodes: usize,
}

impl Default for EnvConfig {
    fn default() -> Self {
        EnvConfig {
            name: "lmrl/maze-fo".into(),
            options: toml::Table::new(),
            group_size: 8,
            tasks_per_step: 4,
            max_turns: 20,
            history: HistoryMode::LastK,
            history_k: 0,
            format: crate::rollout::Format::Text,
            max_failed_episodes: 8,
        }
    }
}

/// `[model]`: the policy, turnwise-model's Llama-layout transformer (RMSNorm, RoPE, SwiGLU;
/// docs/model.md) trained from scratch with a word-level tokenizer built from the
/// environment's texts. The preset gives the layout; the keys below give its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// A Hugging Face checkpoint folder to start from (`config.json`, safetensors weights,
    /// `tokenizer.json`), or a turnwise run's `warm_start` / checkpoint folder; empty: a new
    /// model from `preset` and the shape keys below, with a word-level tokenizer.
    pub path: String,
    /// turnwise-model preset (`tiny`, `tiny-qwen2`, `small`; docs/model.md),
    /// resized to the shape below with the tokenizer's vocabulary.
    pub preset: String,
    /// Embedding width.
    pub d_model: i64,
    /// Transformer blocks.
    pub layers: i64,
    /// Attention heads.
    pub heads: i64,
    /// Feed-forward width.
    pub d_ff: i64,
    /// Longest context in tokens (`max_position_embeddings`; rotary positions, so this is
    /// the context budget rather than a table size).
    pub max_context: i64,
    /// How the word-level tokenizer of a new model cuts texts: `letters` (runs of letters,
    /// single digits and punctuation) or `words` (whitespace-separated words with their
    /// punctuation and digits). Ignored with `path` (the folder's tokenizer is used).
    pub pieces: String,
    /// Weight and activation dtype: `f32`, `bf16` or `f16` (16-bit: f32 master weights and
    /// optimiser moments, 16-bit compute; log-probs in f32).
    pub dtype: String,
    /// Activation (gradient) checkpointing: the policy update and SFT keep only each decoder
    /// layer's input during the forward pass and recompute the layer in the backward pass
    /// (less memory on long multi-turn contexts, about one more forward pass of compute).
    pub gradient_checkpointing: bool,
    /// `[model.lora]`: train LoRA adapters on a frozen pretrained model (none: every weight).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
}

/// `[model.lora]`: LoRA adapters (Hu et al. 2021) on the chosen projections of every layer
/// of `model.path`; the base weights stay frozen, the KL reference is the base model
/// (adapters switched off), and checkpoints hold the merged weights plus the adapters in
/// PEFT's layout (`adapter_model.safetensors`, `adapter_config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoraConfig {
    /// Rank r.
    pub rank: usize,
    /// α: the update is scaled by α / r.
    pub alpha: f64,
    /// Projections that get an adapter (`q_proj k_proj v_proj o_proj gate_proj up_proj down_proj`).
    pub targets: Vec<String>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            targets: ["q_proj", "k_proj", "v_proj", "o_proj"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl LoraConfig {
    /// turnwise-model's adapter settings; `seed` initialises A.
    pub fn model(&self, seed: u64) -> turnwise_model::lora::LoraConfig {
        turnwise_model::lora::LoraConfig {
            rank: self.rank,
            alpha: self.alpha,
            targets: self.targets.clone(),
            seed,
        }
    }
}

impl ModelConfig {
    /// `pieces` parsed (`letters`, `words`); the error names the key.
    pub fn pieces(&self) -> anyhow::Result<crate::policy::tokenizer::Pieces> {
        crate::policy::tokenizer::Pieces::parse(&self.pieces).ok_or_else(|| {
            anyhow::anyhow!(
                "model.pieces: `{}` is not a way to cut words (letters, words)",
                self.pieces
            )
        })
    }

    /// `dtype` parsed (f32, bf16, f16); the error names the key.
    pub fn dtype(&self) -> anyhow::Result<turnwise_model::DType> {
        match turnwise_model::DType::parse(&self.dtype) {
            Ok(turnwise_model::DType::F64) | Err(_) => Err(anyhow::anyhow!(
                "model.dtype: `{}` is not a training dtype (f32, bf16, f16)",
                self.dtype
            )),
            Ok(d) => Ok(d),
        }
    }
}

impl RunConfig {
    /// `device` parsed (cpu, cuda, cuda:N; a CUDA device must exist); the error names the key.
    pub fn device(&self) -> anyhow::Result<tch::Device> {
        turnwise_model::parse_device(&self.device).map_err(|e| {
            let msg = match e {
                turnwise_model::ModelError::Option { message, .. } => message,
                other => other.to_string(),
            };
            anyhow::anyhow!("run.device: {msg}")
        })
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            path: String::new(),
            dtype: "f32".into(),
            gradient_checkpointing: false,
            preset: "tiny".into(),
            d_model: 64,
            layers: 2,
            heads: 4,
            d_ff: 128,
            max_context: 128,
            pieces: "letters".into(),
            lora: None,
        }
    }
}

/// `[sampling]`: how actions are sampled during rollouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingConfig {
    /// Softmax temperature (1: the raw distribution).
    pub temperature: f64,
    /// Per-turn token budget of an action; an action that reaches it is cut.
    pub max_action_tokens: usize,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            temperature: 1.0,
            max_action_tokens: 6,
        }
    }
}

/// `[credit]`: the registered estimator and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CreditConfig {
    /// Registered method name (`turnwise methods`).
    pub method: String,
    /// The method's parameters (checked against its registry entry).
    pub params: toml::Table,
    /// Reward shapers applied, in order, before the method (`dapo_overlong`, `ufo_reward`).
    pub shapers: Vec<String>,
    /// Their parameters, by shaper name (`[credit.shaper_params.dapo_overlong]`).
    pub shaper_params: toml::Table,
    /// The advantage estimator run after `method` when `method` is itself a reward shaper.
    pub base: String,
}

impl Default for CreditConfig {
    fn default() -> Self {
        CreditConfig {
            method: "grpo".into(),
            params: toml::Table::new(),
            shapers: vec![],
            shaper_params: toml::Table::new(),
            base: "grpo".into(),
        }
    }
}

/// Which objective the update minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// The PPO clip family (§12).
    Ppo,
    /// DisCO's discriminative constrained objective (§10); reads outcomes, not advantages.
    Disco,
    /// The temporally-aware drift objective (TA-LPO; `loss::drift`): ρ·A minus a drift
    /// whose tolerances move with the training progress.
    #[serde(rename = "ta-lpo")]
    TaLpo,
}

/// `[loss.disco]`: DisCO settings (§10; released-script defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoConfig {
    /// τ of the log-sum-exp over negatives.
    pub tau: f64,
    /// DisCO-b: mean over negatives instead of log-sum-exp.
    pub basic: bool,
    /// Scoring function: `logL` or `Lratio`.
    pub scoring: Scoring,
    /// β of the squared-hinge KL constraint.
    pub beta: f64,
    /// δ: the KL budget.
    pub delta: f64,
}

impl Default for DiscoConfig {
    fn default() -> Self {
        DiscoConfig {
            tau: 10.0,
            basic: false,
            scoring: Scoring::LogL,
            beta: 1e3,
            delta: 1e-4,
        }
    }
}

/// `[loss]`: the policy objective (§12, §13, §15, §10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// `ppo` (clip family), `disco` or `ta-lpo`.
    pub objective: Objective,
    /// ε_low of the clip.
    pub clip_low: f64,
    /// ε_high of the clip (DAPO clip-higher: 0.28).
    pub clip_high: f64,
    /// Dual-clip constant c > 1 for negative advantages (unset: off).
    pub dual_clip: Option<f64>,
    /// Importance ratio: `token` (PPO) or `sequence` (GSPO).
    pub ratio: RatioKind,
    /// Aggregation: token-mean, seq-mean-token-sum, seq-mean-token-mean, seq-mean-token-sum-norm.
    pub agg: AggMode,
    /// L_max of seq-mean-token-sum-norm (unset: the batch's longest row).
    pub max_len: Option<usize>,
    /// KL estimator to the frozen reference (k1, k2, k3, abs, k1+, k3+; unset: no reference).
    pub kl: Option<KlKind>,
    /// β_KL of the KL loss term.
    pub kl_coef: f64,
    /// Put β_KL·k1 into the per-turn reward instead of the loss (REINFORCE++/PPO style).
    pub kl_in_reward: bool,
    /// β_H of the entropy bonus.
    pub entropy_coef: f64,
    /// EPO entropy smoothing (§15; unset: plain entropy bonus).
    pub epo: Option<EpoConfig>,
    /// Over-turn masking (§13): truncated trajectories get no loss.
    pub over_turn_mask: bool,
    /// DisCO settings (objective = "disco").
    pub disco: DiscoConfig,
    /// Temporally-aware drift settings (objective = "ta-lpo").
    pub ta_lpo: crate::loss::drift::DriftConfig,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            objective: Objective::Ppo,
            clip_low: 0.2,
            clip_high: 0.28,
            dual_clip: None,
            ratio: RatioKind::Token,
            agg: AggMode::TokenMean,
            max_len: None,
            kl: None,
            kl_coef: 0.0,
            kl_in_reward: false,
            entropy_coef: 0.0,
            epo: None,
            over_turn_mask: false,
            disco: DiscoConfig::default(),
            ta_lpo: Default::default(),
        }
    }
}

/// Learning-rate schedule after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Constant after warm-up.
    Constant,
    /// Cosine decay to `min_lr_ratio·lr` at the last step.
    Cosine,
}

/// `[optim]`: AdamW and its schedule (shared by SFT and RL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Adam β1.
    pub beta1: f64,
    /// Adam β2.
    pub beta2: f64,
    /// Adam ε.
    pub eps: f64,
    /// Decoupled weight decay (AdamW).
    pub weight_decay: f64,
    /// Global gradient-norm clip (0: off).
    pub grad_clip: f64,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// `constant` or `cosine` after warm-up.
    pub schedule: Schedule,
    /// Final learning rate of the cosine schedule, as a fraction of `lr`.
    pub min_lr_ratio: f64,
    /// Distinct turn sequences per micro-batch (repeated turns are scored once and expanded
    /// to their rows); gradients accumulate over micro-batches.
    pub micro_batch: usize,
    /// PPO epochs: optimiser passes over each rollout batch.
    pub ppo_epochs: usize,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            grad_clip: 1.0,
            warmup_steps: 0,
            schedule: Schedule::Constant,
            min_lr_ratio: 0.1,
            micro_batch: 256,
            ppo_epochs: 1,
        }
    }
}

/// `[sft]`: supervised warm start on expert demonstrations (loss on action tokens only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SftConfig {
    /// Run SFT before RL.
    pub enabled: bool,
    /// Demonstrations file (turnwise JSONL); empty: generate in-process with the expert solver.
    pub demos: String,
    /// Episodes to generate when `demos` is empty.
    pub episodes: usize,
    /// Probability that a generated step is a random action instead of the expert's.
    pub noise: f64,
    /// Optimiser steps.
    pub steps: u64,
    /// Sequences per step.
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// Folder of shared warm starts: a run whose warm-start inputs equal a stored entry's
    /// loads it instead of training, and a run that trains stores it (docs/training.md,
    /// "Shared warm starts"); empty: off. `turnwise compare` sets it to `DIR/warm_starts`.
    pub cache: String,
}

impl Default for SftConfig {
    fn default() -> Self {
        SftConfig {
            enabled: true,
            demos: String::new(),
            episodes: 200,
            noise: 0.5,
            steps: 300,
            batch: 32,
            lr: 3e-3,
            cache: String::new(),
        }
    }
}

/// `[checkpoint]`: when to save and how many to keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// Save every this many RL steps (0: only at the end).
    pub every: u64,
    /// Keep the last N checkpoints.
    pub keep: usize,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig { every: 10, keep: 2 }
    }
}

/// `[eval]`: evaluation episodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Episodes per evaluation (LMRL maze: the 25 start cells, repeated).
    pub episodes: usize,
    /// Greedy decoding instead of sampling.
    pub greedy: bool,
    /// Turn cap of an evaluation episode (the environment's own limit applies first;
    /// LMRL maze: 100 steps + the `Failure` step).
    pub max_turns: usize,
    /// Also evaluate every N RL steps (0: only after the warm start and at the end); each
    /// evaluation appends a `metrics.jsonl` line and refreshes `RUN/report.html`.
    pub every: u64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            episodes: 25,
            greedy: false,
            max_turns: 101,
            every: 0,
        }
    }
}
