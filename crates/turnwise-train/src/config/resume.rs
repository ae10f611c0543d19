//! Which keys a resumed run may change. Keys that fix what the checkpoint is (the model's
//! shape and vocabulary, the environment, the seed, the warm start, the KL reference, the
//! EPO history) are refused by name; the others (length, budgets, evaluation, threads,
//! checkpointing, sampling, the optimiser and objective settings) are applied, and the
//! trainer records them.

use super::sections::Config;

/// Whether a key may change on resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnResume {
    /// Applied and recorded.
    Mutable,
    /// Refused, with the reason.
    Immutable(&'static str),
}

use OnResume::{Immutable, Mutable};

const SEED: OnResume = Immutable("every random stream of the run derives from it");
const ENV: OnResume = Immutable("the policy was trained on this environment");
const MODEL: OnResume = Immutable("the checkpoint's shape and vocabulary are fixed");
const SFT: OnResume = Immutable("the warm start is already done");

/// Rules by key: a rule names a key or a table (matching every key below it); the first
/// match applies. `model.max_context` may change within the checkpoint's positions
/// (checked when the checkpoint is loaded).
pub const RULES: &[(&str, OnResume)] = &[
    ("run.seed", SEED),
    ("run.out", Mutable),
    ("run.steps", Mutable),
    ("run.time_budget_s", Mutable),
    ("run.max_bad_steps", Mutable),
    ("run.threads", Mutable),
    ("run.device", Mutable),
    ("env.name", ENV),
    ("env.options", ENV),
    (
        "env.history",
        Immutable("the policy was trained on this context"),
    ),
    (
        "env.history_k",
        Immutable("the policy was trained on this context"),
    ),
    (
        "env.format",
        Immutable("the policy was trained on this context"),
    ),
    ("env.group_size", Mutable),
    ("env.tasks_per_step", Mutable),
    ("env.max_turns", Mutable),
    ("env.max_failed_episodes", Mutable),
    ("model.max_context", Mutable),
    (
        "model.dtype",
        Immutable("the optimiser state (f32 masters under bf16/f16) was kept for this dtype"),
    ),
    ("model.gradient_checkpointing", Mutable),
    (
        "model.lora",
        Immutable("the checkpoint's adapters have this shape and the base is frozen"),
    ),
    ("model", MODEL),
    ("sampling", Mutable),
    ("credit", Mutable),
    (
        "loss.kl",
        Immutable("the KL reference is saved only when loss.kl is set at the start"),
    ),
    ("loss.kl_in_reward", Mutable),
    ("loss.kl_coef", Mutable),
    (
        "loss.epo",
        Immutable("the EPO entropy history in the checkpoint is sized by it"),
    ),
    ("loss", Mutable),
    ("optim", Mutable),
    ("sft.cache", Mutable),
    ("sft", SFT),
    (
        "critic.kind",
        Immutable("the critic in the checkpoint has this shape"),
    ),
    (
        "critic.d_model",
        Immutable("the critic in the checkpoint has this shape"),
    ),
    (
        "critic.layers",
        Immutable("the critic in the checkpoint has this shape"),
    ),
    (
        "critic.heads",
        Immutable("the critic in the checkpoint has this shape"),
    ),
    (
        "critic.d_ff",
        Immutable("the critic in the checkpoint has this shape"),
    ),
    ("critic", Mutable),
    ("checkpoint", Mutable),
    ("eval", Mutable),
    ("curricula", Mutable),
];

/// The rule of `key` (keys no rule names are refused: not known to be safe).
pub fn on_resume(key: &str) -> OnResume {
    RULES
        .iter()
        .find(|(r, _)| key == *r || key.strip_prefix(r).is_some_and(|t| t.starts_with('.')))
        .map_or(Immutable("not known to be safe to change"), |(_, o)| *o)
}

/// One changed key: its path and values before and after (None: unset).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Dotted key path.
    pub key: String,
    /// The run's value.
    pub old: Option<toml::Value>,
    /// The value from the resume's configuration.
    pub new: Option<toml::Value>,
}

impl Change {
    fn show(v: &Option<toml::Value>) -> String {
        v.as_ref().map_or("unset".into(), |v| v.to_string())
    }

    /// `key: old → new`.
    pub fn describe(&self) -> String {
        format!(
            "{}: {} → {}",
            self.key,
            Self::show(&self.old),
            Self::show(&self.new)
        )
    }
}

/// Leaf values of a configuration by dotted path (empty tables are leaves).
pub fn leaves(c: &Config) -> std::collections::BTreeMap<String, toml::Value> {
    fn walk(
        t: &toml::Table,
        prefix: &str,
        out: &mut std::collections::BTreeMap<String, toml::Value>,
    ) {
        for (k, v) in t {
            let path = format!("{prefix}{k}");
            match v {
                toml::Value::Table(sub) if !sub.is_empty() => walk(sub, &format!("{path}."), out),
                _ => {
                    out.insert(path, v.clone());
                }
            }
        }
    }
    let text = toml::to_string(c).expect("a configuration serialises");
    let table: toml::Table = toml::from_str(&text).expect("and reads back");
    let mut out = std::collections::BTreeMap::new();
    walk(&table, "", &mut out);
    out
}

/// The keys that differ between the run's configuration `old` and `new`; Err names every
/// refused key with its values and the reason.
pub fn diff(old: &Config, new: &Config) -> Result<Vec<Change>, String> {
    let (a, b) = (leaves(old), leaves(new));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut changes = vec![];
    let mut refused = vec![];
    for k in keys {
        let (o, n) = (a.get(k), b.get(k));
        if o == n {
            continue;
        }
        let c = Change {
            key: k.clone(),
            old: o.cloned(),
            new: n.cloned(),
        };
        match on_resume(k) {
            Mutable => changes.push(c),
            Immutable(why) => refused.push(format!(
                "key `{}` cannot change on --resume ({}): {why}",
                k,
                c.describe().split_once(": ").map_or("", |(_, v)| v)
            )),
        }
    }
    if refused.is_empty() {
        Ok(changes)
    } else {
        Err(refused.join("\n  "))
    }
}
