//! Checks that need the built policy (its tokenizer and shape), run before any training
//! work: the first observation plus a whole action must fit `model.max_context`, and the
//! rollout's and update's tensors must fit in the machine's memory.

use anyhow::Result;
use turnwise_core::seed::{self, Split};
use turnwise_envs::render::TurnCtx;

use super::envs::{eval_tasks, make_envs, STYLE};
use crate::config::Config;
use crate::policy::Policy;
use crate::rollout::{chat, Format};

/// Task seeds probed for the first observation's length.
const PROBES: u64 = 16;

/// The longest first-turn context (tokens, beginning-of-sequence id included) over a
/// few training seeds and the evaluation tasks.
pub fn first_context_len(cfg: &Config, policy: &Policy) -> Result<usize> {
    let mut tasks: Vec<(Vec<(String, String)>, u64)> = (0..PROBES)
        .map(|i| (vec![], seed::task_seed(cfg.run.seed, Split::Train, i)))
        .collect();
    tasks.extend(eval_tasks(
        &cfg.env.name,
        cfg.run.seed,
        cfg.eval.episodes.min(64),
    ));
    let bos = match cfg.env.format {
        Format::Text => usize::from(policy.tokenizer.bos().is_some()),
        Format::Chat => 0,
    };
    let mut longest = 0;
    for (opts, s) in tasks {
        let mut env = make_envs(cfg, 1, &opts)?.remove(0);
        let obs = env.reset(s);
        let ctx = TurnCtx {
            turn: 1,
            max_tokens: cfg.sampling.max_action_tokens,
        };
        let text = STYLE.observation(&*env, ctx, &obs.text, None);
        // In the chat format this renders the template: one that fails errs here, before any work.
        let first = chat::observation(cfg.env.format, &policy.tokenizer, &*env, None, &text)?;
        longest = longest.max(bos + first.token_ids.len());
    }
    Ok(longest)
}

/// Errs when one observation plus an action of `sampling.max_action_tokens` does not fit
/// `model.max_context` (every episode would end before its first action).
pub fn check_context(cfg: &Config, policy: &Policy) -> Result<()> {
    let obs = first_context_len(cfg, policy)?;
    let need = obs + cfg.sampling.max_action_tokens;
    anyhow::ensure!(
        need <= cfg.model.max_context as usize,
        "key `model.max_context`: {} tokens cannot hold the first observation of {} ({obs} \
         tokens) plus an action (sampling.max_action_tokens = {}); it must be at least {need}",
        cfg.model.max_context,
        cfg.env.name,
        cfg.sampling.max_action_tokens,
    );
    let positions = policy.model.config.max_position_embeddings;
    anyhow::ensure!(
        cfg.model.max_context as usize <= positions,
        "key `model.max_context`: {} exceeds the model's max_position_embeddings ({positions})",
        cfg.model.max_context
    );
    Ok(())
}

/// Bytes of the largest tensors a step allocates, estimated: the rollout's key/value cache
/// (every episode of a step, or of an evaluation, at full context, in the model's dtype),
/// the update's logits (a micro-batch at full context, with their gradient and log-softmax,
/// in f32, where the scores are computed), every weight in the model's dtype (a LoRA base
/// too: frozen, it has no gradient or optimiser state), and for the trainable tensors their
/// gradient, AdamW moments (f32), f32 master copies and the NaN guard's copy (a bound of
/// six more f32 copies, whatever the dtype).
pub fn estimate_bytes(cfg: &Config, policy: &Policy) -> f64 {
    let m = &policy.model.config;
    let f32_bytes = 4.0;
    let act = policy.model.dtype().kind().elt_size_in_bytes() as f64;
    let ctx = cfg.model.max_context as f64;
    let kv_row =
        2.0 * m.num_hidden_layers as f64 * (m.num_kv_heads() * m.head_dim()) as f64 * ctx * act;
    let rows = (cfg.env.group_size * cfg.env.tasks_per_step).max(cfg.eval.episodes) as f64;
    let logits = 3.0 * cfg.optim.micro_batch as f64 * ctx * m.vocab_size as f64 * f32_bytes;
    let all: f64 = policy
        .model
        .var_store()
        .variables()
        .values()
        .map(|t| t.numel() as f64)
        .sum();
    let trainable: f64 = policy.parameters().iter().map(|t| t.numel() as f64).sum();
    rows * kv_row + logits + all * act + 6.0 * trainable * f32_bytes
}

/// The machine's (total, available) memory in bytes (Linux; None elsewhere).
fn machine_memory() -> Option<(f64, f64)> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |k: &str| -> Option<f64> {
        let l = text.lines().find(|l| l.starts_with(k))?;
        let kb: f64 = l.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024.0)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

/// Errs when [`estimate_bytes`] exceeds the machine's memory (naming the keys that set
/// it); returns a warning when it exceeds the memory available now. A policy on a GPU is
/// not checked: its tensors live in the device's memory, which this check cannot read
/// (comparing them with the host's memory would refuse or pass runs for the wrong reason).
pub fn check_memory(cfg: &Config, policy: &Policy) -> Result<Option<String>> {
    if policy.model.device() != tch::Device::Cpu {
        return Ok(None);
    }
    let Some((total, avail)) = machine_memory() else {
        return Ok(None);
    };
    let need = estimate_bytes(cfg, policy);
    let gib = |b: f64| b / (1u64 << 30) as f64;
    let what = format!(
        "a step needs about {:.1} GiB (env.group_size {} × env.tasks_per_step {} episodes, \
         eval.episodes {}, model.max_context {}, optim.micro_batch {})",
        gib(need),
        cfg.env.group_size,
        cfg.env.tasks_per_step,
        cfg.eval.episodes,
        cfg.model.max_context,
        cfg.optim.micro_batch
    );
    anyhow::ensure!(
        need <= total,
        "key `env.group_size`: {what}, more than this machine's {:.1} GiB of memory",
        gib(total)
    );
    Ok((need > avail).then(|| {
        format!(
            "warning: {what}; only {:.1} GiB are available now",
            gib(avail)
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::policy::{Placement, WordTokenizer};
    use turnwise_model::{DType, LoraConfig};

    fn policy(dtype: DType) -> (Config, Policy) {
        let cfg = Config {
            model: ModelConfig {
                d_model: 32,
                layers: 2,
                heads: 2,
                d_ff: 64,
                max_context: 64,
                ..ModelConfig::default()
            },
            ..Config::default()
        };
        let place = Placement {
            dtype,
            ..Placement::default()
        };
        let tok = WordTokenizer::build(["a b c d\nmove up down left right"]);
        let p = Policy::new_on(&cfg.model, tok, 1, place).unwrap();
        (cfg, p)
    }

    fn numel(p: &Policy) -> f64 {
        let vars = p.model.var_store().variables();
        vars.values().map(|t| t.numel() as f64).sum()
    }

    #[test]
    fn a_16_bit_policy_halves_the_weights_and_the_kv_cache_not_the_optimiser_state() {
        let (cfg, f32_policy) = policy(DType::F32);
        let (_, bf16_policy) = policy(DType::Bf16);
        let m = &f32_policy.model.config;
        let kv_f32 = 2.0
            * m.num_hidden_layers as f64
            * (m.num_kv_heads() * m.head_dim()) as f64
            * cfg.model.max_context as f64
            * 4.0;
        let rows = (cfg.env.group_size * cfg.env.tasks_per_step).max(cfg.eval.episodes) as f64;
        let saved = estimate_bytes(&cfg, &f32_policy) - estimate_bytes(&cfg, &bf16_policy);
        let expect = rows * kv_f32 / 2.0 + numel(&f32_policy) * 2.0;
        assert!(
            (saved - expect).abs() < 1e-6 * expect,
            "{saved} vs {expect}"
        );
    }

    #[test]
    fn a_lora_base_counts_its_weights_but_no_optimiser_state() {
        let (cfg, full) = policy(DType::F32);
        let (_, mut lora) = policy(DType::F32);
        let base = numel(&lora);
        lora.model
            .add_lora(&LoraConfig {
                rank: 2,
                alpha: 4.0,
                targets: vec!["q_proj".into(), "v_proj".into()],
                seed: 0,
            })
            .unwrap();
        let adapters: f64 = lora.parameters().iter().map(|t| t.numel() as f64).sum();
        assert!(adapters > 0.0 && adapters < base);
        // Full fine-tuning: weights plus six f32 copies of every one; LoRA: the frozen base
        // and the adapters once, six copies of the adapters only.
        let diff = estimate_bytes(&cfg, &full) - estimate_bytes(&cfg, &lora);
        let expect = 6.0 * 4.0 * (base - adapters) - 4.0 * adapters;
        assert!((diff - expect).abs() < 1e-6 * expect, "{diff} vs {expect}");
    }
}
