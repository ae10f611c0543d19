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
/// (every episode of a step, or of an evaluation, at full context), the update's logits
/// (a micro-batch at full context, with their gradient and log-softmax), and the weights
/// with their gradient, AdamW moments and the NaN guard's copy.
pub fn estimate_bytes(cfg: &Config, policy: &Policy) -> f64 {
    let m = &policy.model.config;
    let f = 4.0; // f32
    let ctx = cfg.model.max_context as f64;
    let kv_row =
        2.0 * m.num_hidden_layers as f64 * (m.num_kv_heads() * m.head_dim()) as f64 * ctx * f;
    let rows = (cfg.env.group_size * cfg.env.tasks_per_step).max(cfg.eval.episodes) as f64;
    let logits = 3.0 * cfg.optim.micro_batch as f64 * ctx * m.vocab_size as f64 * f;
    let params: f64 = policy.parameters().iter().map(|t| t.numel() as f64).sum();
    rows * kv_row + logits + 7.0 * params * f
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
/// it); returns a warning when it exceeds the memory available now.
pub fn check_memory(cfg: &Config, policy: &Policy) -> Result<Option<String>> {
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
