//! Validation of every configuration value at load time, before any work: each key's
//! allowed range ([`Checks`]), relations between keys, and names resolved against the
//! registries (environment, options, credit method and parameters, model preset, files).
//! Every violation is reported with its key path and the allowed range, all at once.
//!
//! A new key is one line in [`validate`] (a range helper below, or a custom rule); the
//! table-driven test in `config/tests.rs` fails until the key has a row there.

use std::path::Path;

use super::sections::{Config, HistoryMode};

/// The range of a real-valued key.
#[derive(Debug, Clone, Copy)]
pub struct Real {
    /// Lower bound and whether it is included.
    lo: Option<(f64, bool)>,
    /// Upper bound and whether it is included.
    hi: Option<(f64, bool)>,
}

impl Real {
    /// Any finite number.
    pub const FINITE: Real = Real { lo: None, hi: None };
    /// A finite number ≥ 0.
    pub const NON_NEGATIVE: Real = Real {
        lo: Some((0.0, true)),
        hi: None,
    };
    /// A finite number > 0.
    pub const POSITIVE: Real = Real {
        lo: Some((0.0, false)),
        hi: None,
    };
    /// A probability: [0, 1].
    pub const PROBABILITY: Real = Real {
        lo: Some((0.0, true)),
        hi: Some((1.0, true)),
    };
    /// [0, 1): Adam's β, a clip range below one.
    pub const UNIT_OPEN: Real = Real {
        lo: Some((0.0, true)),
        hi: Some((1.0, false)),
    };

    /// A finite number > `x`.
    pub const fn above(x: f64) -> Real {
        Real {
            lo: Some((x, false)),
            hi: None,
        }
    }

    fn contains(&self, v: f64) -> bool {
        v.is_finite()
            && self
                .lo
                .is_none_or(|(b, inc)| if inc { v >= b } else { v > b })
            && self
                .hi
                .is_none_or(|(b, inc)| if inc { v <= b } else { v < b })
    }

    fn describe(&self) -> String {
        match (self.lo, self.hi) {
            (None, None) => "a finite number".into(),
            (Some((a, ia)), Some((b, ib))) => format!(
                "a number in {}{a}, {b}{}",
                if ia { '[' } else { '(' },
                if ib { ']' } else { ')' }
            ),
            (Some((a, inc)), None) => {
                format!("a finite number {} {a}", if inc { "≥" } else { ">" })
            }
            (None, Some((b, inc))) => format!("a number {} {b}", if inc { "≤" } else { "<" }),
        }
    }
}

/// Collected violations, one line each: "key `PATH`: must be … (got …)".
#[derive(Debug, Default)]
pub struct Checks(Vec<String>);

impl Checks {
    /// Records a violation of `key`.
    pub fn fail(&mut self, key: &str, message: impl std::fmt::Display) {
        self.0.push(format!("key `{key}`: {message}"));
    }

    /// `v` must lie in `range`.
    pub fn real(&mut self, key: &str, v: f64, range: Real) {
        if !range.contains(v) {
            self.fail(key, format!("must be {} (got {v})", range.describe()));
        }
    }

    /// `v` must lie in `range` when set.
    pub fn real_opt(&mut self, key: &str, v: Option<f64>, range: Real) {
        if let Some(v) = v {
            self.real(key, v, range);
        }
    }

    /// An integer in `lo..=hi`.
    pub fn int(&mut self, key: &str, v: impl Into<i128>, lo: i128, hi: i128) {
        let v = v.into();
        if v < lo || v > hi {
            let range = if hi == i128::MAX {
                format!("at least {lo}")
            } else {
                format!("in {lo}..={hi}")
            };
            self.fail(key, format!("must be an integer {range} (got {v})"));
        }
    }

    /// An integer of at least `lo`.
    pub fn at_least(&mut self, key: &str, v: impl Into<i128>, lo: i128) {
        self.int(key, v, lo, i128::MAX);
    }

    /// `ok` must hold; `message` says what is required.
    pub fn require(&mut self, key: &str, ok: bool, message: impl std::fmt::Display) {
        if !ok {
            self.fail(key, message);
        }
    }

    /// The collected violations as one message (None: valid).
    pub fn finish(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0.join("\n  "))
        }
    }
}

/// Largest model width, depth, context and similar sizes accepted (a typo guard; memory is
/// checked against the machine when the run starts).
const BIG: i128 = 1 << 24;

/// Checks every key of `c`; Err lists each violation with its key path and range.
pub fn validate(c: &Config) -> Result<(), String> {
    let mut k = Checks::default();
    run_keys(c, &mut k);
    env_keys(c, &mut k);
    model_keys(c, &mut k);
    k.real(
        "sampling.temperature",
        c.sampling.temperature,
        Real::POSITIVE,
    );
    k.int(
        "sampling.max_action_tokens",
        c.sampling.max_action_tokens as i128,
        1,
        BIG,
    );
    credit_keys(c, &mut k);
    loss_keys(c, &mut k);
    optim_keys(c, &mut k);
    sft_keys(c, &mut k);
    critic_keys(c, &mut k);
    k.at_least("checkpoint.keep", c.checkpoint.keep as i128, 1);
    k.at_least("eval.episodes", c.eval.episodes as i128, 1);
    k.at_least("eval.max_turns", c.eval.max_turns as i128, 1);
    super::curricula::validate(c, &mut k);
    k.finish()
}

fn critic_keys(c: &Config, k: &mut Checks) {
    let v = &c.critic;
    k.int("critic.d_model", v.d_model, 1, BIG);
    k.int("critic.layers", v.layers, 1, 4096);
    k.int("critic.heads", v.heads, 1, 4096);
    k.int("critic.d_ff", v.d_ff, 1, BIG);
    if v.d_model > 0 && v.heads > 0 {
        k.require(
            "critic.heads",
            v.d_model % v.heads == 0 && (v.d_model / v.heads) % 2 == 0,
            format!(
                "must divide `critic.d_model` ({}) into an even head width (rotary embeddings)",
                v.d_model
            ),
        );
    }
    k.real("critic.lr", v.lr, Real::POSITIVE);
    k.real("critic.value_clip", v.value_clip, Real::NON_NEGATIVE);
    k.int("critic.epochs", v.epochs as i128, 1, BIG);
    // (0, 1]: τ = 1 copies the critic into the target every step.
    let tau = Real {
        lo: Some((0.0, false)),
        hi: Some((1.0, true)),
    };
    k.real("critic.tau", v.tau, tau);
    k.int("critic.warmup_steps", v.warmup_steps as i128, 0, BIG);
    if v.warmup_steps > 0 {
        k.require(
            "critic.warmup_steps",
            v.warmup_steps < c.run.steps,
            format!(
                "must be below `run.steps` ({}): the policy would never be updated",
                c.run.steps
            ),
        );
    }
}

fn run_keys(c: &Config, k: &mut Checks) {
    k.require(
        "run.out",
        !c.run.out.trim().is_empty(),
        "must name a folder",
    );
    k.real("run.time_budget_s", c.run.time_budget_s, Real::NON_NEGATIVE);
    k.at_least("run.max_bad_steps", c.run.max_bad_steps, 1);
    k.int("run.threads", c.run.threads as i128, 0, 1024);
    if let Err(e) = c.run.device() {
        k.fail("run.device", strip_key(&e.to_string(), "run.device"));
    }
}

/// An error message without its leading `key: `.
fn strip_key(msg: &str, key: &str) -> String {
    msg.strip_prefix(key)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(msg)
        .to_string()
}

fn env_keys(c: &Config, k: &mut Checks) {
    let e = &c.env;
    match turnwise_envs::registry::get(&e.name) {
        Err(err) => k.fail("env.name", err),
        Ok(_) => {
            let opts = crate::train::envs::option_pairs(c);
            if let Err(err) = turnwise_envs::registry::make(&e.name, &opts) {
                k.fail("env.options", err);
            }
        }
    }
    k.int("env.group_size", e.group_size as i128, 1, BIG);
    k.int("env.tasks_per_step", e.tasks_per_step as i128, 1, BIG);
    k.int("env.max_turns", e.max_turns as i128, 1, BIG);
    k.int("env.history_k", e.history_k as i128, 0, BIG);
    if e.format == crate::rollout::Format::Chat {
        k.require(
            "env.format",
            !c.model.path.is_empty(),
            "\"chat\" needs a pretrained model with a chat template: set model.path",
        );
        k.require(
            "env.format",
            e.history == HistoryMode::Full,
            "\"chat\" needs env.history = \"full\" (a conversation only grows; last-k and mem1 would cut messages)",
        );
        k.require(
            "env.format",
            !c.sft.enabled,
            "\"chat\" needs sft.enabled = false (the warm start's demonstrations are raw text)",
        );
    }
    k.int(
        "env.max_failed_episodes",
        e.max_failed_episodes as i128,
        0,
        BIG,
    );
}

fn model_keys(c: &Config, k: &mut Checks) {
    let m = &c.model;
    if !m.path.is_empty() {
        let p = Path::new(&m.path);
        k.require(
            "model.path",
            p.join("config.json").is_file() || (p.is_file() && turnwise_model::gguf::is_gguf(p)),
            format!(
                "{} is neither a model folder (no config.json) nor a GGUF file; empty: a new model from model.preset",
                p.display()
            ),
        );
    }
    let presets = turnwise_model::config::PRESETS;
    k.require(
        "model.preset",
        presets.iter().any(|p| p.name == m.preset),
        format!(
            "unknown preset {:?} (one of: {})",
            m.preset,
            presets
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    k.int("model.d_model", m.d_model, 1, BIG);
    k.int("model.layers", m.layers, 1, 4096);
    k.int("model.heads", m.heads, 1, 4096);
    k.int("model.d_ff", m.d_ff, 1, BIG);
    k.int("model.max_context", m.max_context, 2, BIG);
    if let Err(e) = m.dtype() {
        k.fail("model.dtype", strip_key(&e.to_string(), "model.dtype"));
    }
    if let Err(e) = m.pieces() {
        k.fail("model.pieces", strip_key(&e.to_string(), "model.pieces"));
    }
    if let Some(l) = &m.lora {
        k.require(
            "model.lora",
            !m.path.is_empty(),
            "adapters train on a pretrained model: set model.path",
        );
        k.int("model.lora.rank", l.rank as i128, 1, 65536);
        k.real("model.lora.alpha", l.alpha, Real::POSITIVE);
        let known = turnwise_model::lora::TARGETS;
        k.require(
            "model.lora.targets",
            !l.targets.is_empty() && l.targets.iter().all(|t| known.contains(&t.as_str())),
            format!(
                "must name at least one of {} (got {:?})",
                known.join(", "),
                l.targets
            ),
        );
    }
    if m.d_model > 0 && m.heads > 0 {
        k.require(
            "model.heads",
            m.d_model % m.heads == 0 && (m.d_model / m.heads) % 2 == 0,
            format!(
                "must divide `model.d_model` ({}) into an even head width (rotary embeddings)",
                m.d_model
            ),
        );
    }
    k.require(
        "sampling.max_action_tokens",
        (c.sampling.max_action_tokens as i64) < m.max_context,
        format!(
            "must be below `model.max_context` ({}): a context holds an observation and an action",
            m.max_context
        ),
    );
}

fn credit_keys(c: &Config, k: &mut Checks) {
    let params = super::toml_to_json(&c.credit.params);
    match turnwise_credit::registry::get(&c.credit.method) {
        Err(e) => k.fail("credit.method", e),
        Ok(method) => {
            if let Err(e) = turnwise_credit::Params::resolve(
                &c.credit.method,
                method.info().params,
                &params,
                &[],
            ) {
                k.fail("credit.params", e);
            }
        }
    }
    let kind = |name: &str| {
        turnwise_credit::registry::get(name)
            .map(|m| m.info().kind)
            .map_err(|e| e.to_string())
    };
    match kind(&c.credit.base) {
        Err(e) => k.fail("credit.base", e),
        Ok(b) => k.require(
            "credit.base",
            !b.is_shaper(),
            "must produce advantages, not shape rewards",
        ),
    }
    for name in &c.credit.shapers {
        match kind(name) {
            Err(e) => k.fail("credit.shapers", e),
            Ok(s) => k.require(
                "credit.shapers",
                s.is_shaper(),
                format!("{name:?} is not a reward shaper"),
            ),
        }
    }
    for (name, v) in &c.credit.shaper_params {
        let key = format!("credit.shaper_params.{name}");
        if !c.credit.shapers.contains(name) {
            k.fail(&key, "names no shaper listed in `credit.shapers`");
            continue;
        }
        let (Ok(m), Some(t)) = (turnwise_credit::registry::get(name), v.as_table()) else {
            k.fail(&key, "must be a table of the shaper's parameters");
            continue;
        };
        let p = super::toml_to_json(t);
        if let Err(e) = turnwise_credit::Params::resolve(name, m.info().params, &p, &[]) {
            k.fail(&key, e);
        }
    }
}

fn loss_keys(c: &Config, k: &mut Checks) {
    let l = &c.loss;
    k.real("loss.clip_low", l.clip_low, Real::UNIT_OPEN);
    k.real("loss.clip_high", l.clip_high, Real::NON_NEGATIVE);
    k.real_opt("loss.dual_clip", l.dual_clip, Real::above(1.0));
    if let Some(n) = l.max_len {
        k.int("loss.max_len", n as i128, 1, BIG);
    }
    k.real("loss.kl_coef", l.kl_coef, Real::NON_NEGATIVE);
    match l.kl {
        Some(_) => k.require(
            "loss.kl_coef",
            l.kl_coef > 0.0,
            "must be > 0 when `loss.kl` is set (unset `loss.kl` for no KL term)",
        ),
        None => {
            k.require(
                "loss.kl_coef",
                l.kl_coef == 0.0,
                "needs a KL estimator: set `loss.kl` (k1, k2, k3, abs, k1+, k3+)",
            );
            k.require(
                "loss.kl_in_reward",
                !l.kl_in_reward,
                "needs a reference: set `loss.kl` and `loss.kl_coef`",
            );
        }
    }
    k.real("loss.entropy_coef", l.entropy_coef, Real::FINITE);
    if let Some(e) = &l.epo {
        k.real("loss.epo.smooth_coef", e.smooth_coef, Real::NON_NEGATIVE);
        k.real("loss.epo.min_ratio", e.min_ratio, Real::NON_NEGATIVE);
        k.real("loss.epo.max_ratio", e.max_ratio, Real::NON_NEGATIVE);
        k.require(
            "loss.epo.max_ratio",
            e.max_ratio >= e.min_ratio,
            format!("must be ≥ `loss.epo.min_ratio` ({})", e.min_ratio),
        );
        k.real(
            "loss.epo.out_range_penalty",
            e.out_range_penalty,
            Real::NON_NEGATIVE,
        );
        k.int("loss.epo.max_steps", e.max_steps as i128, 1, BIG);
        k.int("loss.epo.max_epochs", e.max_epochs, 1, i64::MAX as i128);
    }
    let d = &l.disco;
    k.real("loss.disco.tau", d.tau, Real::POSITIVE);
    k.real("loss.disco.beta", d.beta, Real::NON_NEGATIVE);
    k.real("loss.disco.delta", d.delta, Real::NON_NEGATIVE);
}

fn optim_keys(c: &Config, k: &mut Checks) {
    let o = &c.optim;
    k.real("optim.lr", o.lr, Real::NON_NEGATIVE);
    k.real("optim.beta1", o.beta1, Real::UNIT_OPEN);
    k.real("optim.beta2", o.beta2, Real::UNIT_OPEN);
    k.real("optim.eps", o.eps, Real::POSITIVE);
    k.real("optim.weight_decay", o.weight_decay, Real::NON_NEGATIVE);
    k.real("optim.grad_clip", o.grad_clip, Real::NON_NEGATIVE);
    k.real("optim.min_lr_ratio", o.min_lr_ratio, Real::PROBABILITY);
    k.int("optim.micro_batch", o.micro_batch as i128, 1, BIG);
    k.int("optim.ppo_epochs", o.ppo_epochs as i128, 1, 1 << 16);
}

fn sft_keys(c: &Config, k: &mut Checks) {
    let s = &c.sft;
    if !s.demos.is_empty() {
        k.require(
            "sft.demos",
            Path::new(&s.demos).is_file(),
            format!(
                "{}: no such file (empty: generate demonstrations in-process)",
                s.demos
            ),
        );
    }
    k.int("sft.episodes", s.episodes as i128, 1, BIG);
    k.real("sft.noise", s.noise, Real::PROBABILITY);
    if s.enabled {
        k.require(
            "sft.steps",
            s.steps >= 1,
            "must be at least 1 (to skip the warm start: `sft.enabled` = false)",
        );
    }
    k.int("sft.batch", s.batch as i128, 1, BIG);
    k.real("sft.lr", s.lr, Real::NON_NEGATIVE);
    if !s.cache.is_empty() {
        k.require(
            "sft.cache",
            !Path::new(&s.cache).exists() || Path::new(&s.cache).is_dir(),
            format!("{}: exists and is not a folder", s.cache),
        );
        k.require(
            "sft.cache",
            c.model.lora.is_none(),
            "is not supported with [model.lora] (a stored warm start holds merged weights)",
        );
    }
}
