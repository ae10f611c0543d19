//! Which credit-method input fields the trainer computes: the common ones for every
//! environment, and the gold-answer log-probs ([`super::gold`]) where the environment
//! knows its task's answer. A method reading anything else is refused at start.

use anyhow::{anyhow, Result};
use turnwise_core::seed::{self, Split};
use turnwise_credit::registry;

use super::envs::make_envs;
use crate::config::Config;

/// Fields the trainer fills in every trajectory it produces (credit methods reading
/// others are rejected at start, with the reason).
pub const PROVIDED_FIELDS: &[&str] = &[
    "outcome",
    "reward",
    "tokens",
    "truncated",
    "anchor",
    "env_step",
];

/// Whether `method` reads the gold-answer fields ([`super::gold::FIELDS`]).
pub fn needs_gold(method: &str) -> bool {
    registry::get(method)
        .map(|m| {
            m.info()
                .fields
                .iter()
                .any(|f| super::gold::FIELDS.contains(f))
        })
        .unwrap_or(false)
}

/// Refuses a credit method that reads a field the trainer does not compute for `cfg`'s
/// environment, naming the field.
pub fn check_credit(cfg: &Config) -> Result<()> {
    let m = registry::get(&cfg.credit.method).map_err(|e| anyhow!("credit.method: {e}"))?;
    let info = m.info();
    let mut provided: Vec<&str> = PROVIDED_FIELDS.to_vec();
    if needs_gold(info.name) {
        // The gold fields exist when the environment knows its task's answer.
        let mut env = make_envs(cfg, 1, &[])?.remove(0);
        env.reset(seed::task_seed(cfg.run.seed, Split::Train, 0));
        if env.gold_action().is_some() {
            provided.extend_from_slice(super::gold::FIELDS);
        }
    }
    if let Some(f) = info.fields.iter().find(|f| !provided.contains(f)) {
        return Err(anyhow!(
            "credit.method = {:?} reads `{f}`, which the trainer does not compute for {:?} (it provides: {})",
            info.name,
            cfg.env.name,
            provided.join(", ")
        ));
    }
    Ok(())
}
