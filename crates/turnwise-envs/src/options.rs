//! Typed environment options with defaults (spec §10: `reset(seed, options)`; §10.1.3
//! invalid-action policy as env config).

use std::collections::BTreeMap;

use crate::error::{closest, EnvError};

/// The type of an option's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptionKind {
    /// A signed integer.
    Int,
    /// A floating-point number.
    Float,
    /// `true` / `false`.
    Bool,
    /// Free text (parsed further by the environment).
    Str,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
}

impl OptionKind {
    /// A short description of the accepted values.
    pub fn describe(&self) -> String {
        match self {
            OptionKind::Int => "an integer".into(),
            OptionKind::Float => "a number".into(),
            OptionKind::Bool => "true or false".into(),
            OptionKind::Str => "text".into(),
            OptionKind::Choice(c) => format!("one of {}", c.join(", ")),
        }
    }
}

/// One option of an environment: name, type, default (as text) and documentation.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// The option's name (`KEY` of `--option KEY=VALUE`).
    pub name: &'static str,
    /// Its type.
    pub kind: OptionKind,
    /// Its default, written as on the command line.
    pub default: &'static str,
    /// What it does, with the source of the default.
    pub doc: &'static str,
}

/// A parsed option value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A number.
    Float(f64),
    /// A flag.
    Bool(bool),
    /// Text or a choice.
    Str(String),
}

/// The resolved options of one environment: every declared option has a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    env: &'static str,
    values: BTreeMap<&'static str, Value>,
}

fn parse(env: &str, spec: &OptionSpec, text: &str) -> Result<Value, EnvError> {
    let bad = || EnvError::BadValue {
        env: env.to_owned(),
        option: spec.name.to_owned(),
        value: text.to_owned(),
        expected: spec.kind.describe(),
    };
    let t = text.trim();
    Ok(match spec.kind {
        OptionKind::Int => Value::Int(t.parse().map_err(|_| bad())?),
        OptionKind::Float => {
            let v: f64 = t.parse().map_err(|_| bad())?;
            if !v.is_finite() {
                return Err(bad());
            }
            Value::Float(v)
        }
        OptionKind::Bool => Value::Bool(match t {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(bad()),
        }),
        OptionKind::Str => Value::Str(t.to_owned()),
        OptionKind::Choice(c) => {
            if !c.contains(&t) {
                return Err(bad());
            }
            Value::Str(t.to_owned())
        }
    })
}

impl Options {
    /// Resolves `overrides` (`(key, value)` pairs) against `specs`; unset options take
    /// their defaults. An unknown key is an error naming the closest option.
    pub fn resolve(
        env: &'static str,
        specs: &'static [OptionSpec],
        overrides: &[(String, String)],
    ) -> Result<Options, EnvError> {
        let mut values = BTreeMap::new();
        for s in specs {
            values.insert(s.name, parse(env, s, s.default)?);
        }
        for (k, v) in overrides {
            let spec =
                specs
                    .iter()
                    .find(|s| s.name == k)
                    .ok_or_else(|| EnvError::UnknownOption {
                        env: env.to_owned(),
                        option: k.clone(),
                        suggestion: closest(k, specs.iter().map(|s| s.name)),
                    })?;
            values.insert(spec.name, parse(env, spec, v)?);
        }
        Ok(Options { env, values })
    }

    /// Splits `KEY=VALUE` into its parts.
    pub fn split_kv(text: &str) -> Result<(String, String), EnvError> {
        text.split_once('=')
            .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
            .ok_or_else(|| EnvError::NotKeyValue(text.to_owned()))
    }

    /// The environment these options belong to.
    pub fn env(&self) -> &'static str {
        self.env
    }

    fn get(&self, key: &str) -> &Value {
        // Environments only ask for the options they declare; a miss is a programming
        // error caught by the registry test that builds every env with its defaults.
        self.values
            .get(key)
            .unwrap_or_else(|| panic!("option `{key}` is not declared by `{}`", self.env))
    }

    /// An integer option.
    pub fn int(&self, key: &str) -> i64 {
        match self.get(key) {
            Value::Int(v) => *v,
            v => panic!("option `{key}` is {v:?}, not an integer"),
        }
    }

    /// A non-negative integer option, checked against `max`.
    pub fn count(&self, key: &str, min: i64, max: i64) -> Result<usize, EnvError> {
        let v = self.int(key);
        if v < min || v > max {
            return Err(self.bad(key, &v.to_string(), &format!("{min}..={max}")));
        }
        Ok(v as usize)
    }

    /// A number option (integers are accepted).
    pub fn float(&self, key: &str) -> f64 {
        match self.get(key) {
            Value::Float(v) => *v,
            Value::Int(v) => *v as f64,
            v => panic!("option `{key}` is {v:?}, not a number"),
        }
    }

    /// A flag option.
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            Value::Bool(v) => *v,
            v => panic!("option `{key}` is {v:?}, not a flag"),
        }
    }

    /// A text or choice option.
    pub fn str(&self, key: &str) -> &str {
        match self.get(key) {
            Value::Str(v) => v,
            v => panic!("option `{key}` is {v:?}, not text"),
        }
    }

    /// The error for a value the environment rejects after parsing.
    pub fn bad(&self, key: &str, value: &str, expected: &str) -> EnvError {
        EnvError::BadValue {
            env: self.env.to_owned(),
            option: key.to_owned(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        }
    }
}

/// The invalid-action policy (spec §10, §10.1.3): the reward of an invalid action and
/// whether it uses up a turn of the budget. Read from options `invalid_penalty` and
/// `invalid_consumes_turn`, whose defaults are each benchmark's own values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvalidPolicy {
    /// Reward (usually negative) of an invalid action.
    pub penalty: f64,
    /// Whether an invalid action counts towards the step or turn limit.
    pub consumes_turn: bool,
}

impl InvalidPolicy {
    /// Reads the policy from `opts`.
    pub fn from_options(opts: &Options) -> InvalidPolicy {
        InvalidPolicy {
            penalty: opts.float("invalid_penalty"),
            consumes_turn: opts.bool("invalid_consumes_turn"),
        }
    }
}
