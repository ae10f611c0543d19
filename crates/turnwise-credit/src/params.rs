//! Typed method parameters: each method declares [`ParamSpec`]s (name, kind, default,
//! doc line); user values (JSON from a file, or `key=value` from the command line) are
//! checked against them and resolved into [`Params`].

use serde_json::Value;

use crate::error::CreditError;

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// A real number (integers accepted).
    Float,
    /// A real number or `null` / `none` (unset).
    OptFloat,
    /// An integer.
    Int,
    /// An integer or `null` / `none` (unset).
    OptInt,
    /// `true` or `false`.
    Bool,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
}

/// A resolved parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A real number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A choice.
    Str(String),
    /// Unset (for `OptFloat` / `OptInt`).
    None,
}

/// A parameter's default, as a constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    /// A real number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A choice.
    Str(&'static str),
    /// Unset.
    None,
}

impl Default {
    fn value(self) -> ParamValue {
        match self {
            Default::Float(x) => ParamValue::Float(x),
            Default::Int(x) => ParamValue::Int(x),
            Default::Bool(x) => ParamValue::Bool(x),
            Default::Str(s) => ParamValue::Str(s.to_owned()),
            Default::None => ParamValue::None,
        }
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Int(x) => write!(f, "{x}"),
            ParamValue::Bool(x) => write!(f, "{x}"),
            ParamValue::Str(s) => write!(f, "{s}"),
            ParamValue::None => write!(f, "none"),
        }
    }
}

/// The declaration of one parameter of a method.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// Name, as in the reference implementation.
    pub name: &'static str,
    /// Type.
    pub kind: ParamKind,
    /// Default value.
    pub default: Default,
    /// One-line description (symbol in the paper, meaning).
    pub doc: &'static str,
}

impl ParamSpec {
    /// The default as a [`ParamValue`].
    pub fn default_value(&self) -> ParamValue {
        self.default.value()
    }

    fn parse_json(&self, method: &str, v: &Value) -> Result<ParamValue, CreditError> {
        let bad = |msg: String| CreditError::BadParam {
            method: method.to_owned(),
            param: self.name.to_owned(),
            message: msg,
        };
        let got = || format!("expected {}, got {v}", self.kind_name());
        match (self.kind, v) {
            (ParamKind::OptFloat | ParamKind::OptInt, Value::Null) => Ok(ParamValue::None),
            (ParamKind::Float | ParamKind::OptFloat, Value::Number(n)) => {
                let x = n.as_f64().ok_or_else(|| bad(got()))?;
                if x.is_finite() {
                    Ok(ParamValue::Float(x))
                } else {
                    Err(bad("must be finite".into()))
                }
            }
            (ParamKind::Int | ParamKind::OptInt, Value::Number(n)) => match n.as_i64() {
                Some(x) => Ok(ParamValue::Int(x)),
                None => match n.as_f64() {
                    Some(x) if x.fract() == 0.0 && x.abs() < 9e15 => Ok(ParamValue::Int(x as i64)),
                    _ => Err(bad(got())),
                },
            },
            (ParamKind::Bool, Value::Bool(b)) => Ok(ParamValue::Bool(*b)),
            (ParamKind::Choice(opts), Value::String(s)) if opts.contains(&s.as_str()) => {
                Ok(ParamValue::Str(s.clone()))
            }
            (ParamKind::Choice(opts), Value::String(s)) => {
                Err(bad(format!("{s:?} is not one of {}", opts.join(", "))))
            }
            _ => Err(bad(got())),
        }
    }

    fn parse_str(&self, method: &str, s: &str) -> Result<ParamValue, CreditError> {
        let v = match self.kind {
            ParamKind::Choice(_) => Value::String(s.to_owned()),
            _ if s.eq_ignore_ascii_case("none") || s == "null" => Value::Null,
            _ => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned())),
        };
        self.parse_json(method, &v)
    }

    /// Human-readable name of the kind.
    pub fn kind_name(&self) -> String {
        match self.kind {
            ParamKind::Float => "a number".into(),
            ParamKind::OptFloat => "a number or none".into(),
            ParamKind::Int => "an integer".into(),
            ParamKind::OptInt => "an integer or none".into(),
            ParamKind::Bool => "true or false".into(),
            ParamKind::Choice(o) => format!("one of {}", o.join(", ")),
        }
    }
}

/// The `eps` parameter shared by the group-normalising methods: ε added to the std
/// (`credit-outcome.md` §0.3, ε = 1e-6).
pub const EPS_PARAM: ParamSpec = ParamSpec {
    name: "eps",
    kind: ParamKind::Float,
    default: Default::Float(crate::stats::EPS),
    doc: "ε added to the std",
};

/// Resolved parameters of one method call: every declared parameter has a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    values: Vec<(&'static str, ParamValue)>,
}

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `name`, if reasonably close.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 2).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

impl Params {
    /// Resolves `specs` from JSON values then `key=value` overrides (later wins).
    pub fn resolve(
        method: &str,
        specs: &'static [ParamSpec],
        json: &serde_json::Map<String, Value>,
        overrides: &[(String, String)],
    ) -> Result<Params, CreditError> {
        let mut values: Vec<(&'static str, ParamValue)> =
            specs.iter().map(|s| (s.name, s.default_value())).collect();
        let find = |key: &str| -> Result<usize, CreditError> {
            specs
                .iter()
                .position(|s| s.name == key)
                .ok_or_else(|| CreditError::BadParam {
                    method: method.to_owned(),
                    param: key.to_owned(),
                    message: match closest(key, specs.iter().map(|s| s.name)) {
                        Some(c) => format!("unknown parameter (did you mean {c:?}?)"),
                        None if specs.is_empty() => {
                            "unknown parameter (this method takes none)".into()
                        }
                        None => format!(
                            "unknown parameter (known: {})",
                            specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                        ),
                    },
                })
        };
        for (k, v) in json {
            let i = find(k)?;
            values[i].1 = specs[i].parse_json(method, v)?;
        }
        for (k, v) in overrides {
            let i = find(k)?;
            values[i].1 = specs[i].parse_str(method, v)?;
        }
        Ok(Params { values })
    }

    /// Defaults only.
    pub fn defaults(specs: &'static [ParamSpec]) -> Params {
        Params {
            values: specs.iter().map(|s| (s.name, s.default_value())).collect(),
        }
    }

    /// The raw value of `name`. Panics if the method did not declare it (a bug in the method).
    pub fn get(&self, name: &str) -> &ParamValue {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("parameter {name:?} is not declared by this method"))
    }

    /// A `Float` parameter.
    pub fn f64(&self, name: &str) -> f64 {
        match self.get(name) {
            ParamValue::Float(x) => *x,
            ParamValue::Int(x) => *x as f64,
            v => panic!("parameter {name:?} is {v:?}, not a number"),
        }
    }

    /// An `OptFloat` parameter.
    pub fn opt_f64(&self, name: &str) -> Option<f64> {
        match self.get(name) {
            ParamValue::None => None,
            _ => Some(self.f64(name)),
        }
    }

    /// An `Int` parameter.
    pub fn i64(&self, name: &str) -> i64 {
        match self.get(name) {
            ParamValue::Int(x) => *x,
            v => panic!("parameter {name:?} is {v:?}, not an integer"),
        }
    }

    /// An `OptInt` parameter.
    pub fn opt_i64(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            ParamValue::None => None,
            _ => Some(self.i64(name)),
        }
    }

    /// A `Bool` parameter.
    pub fn bool(&self, name: &str) -> bool {
        match self.get(name) {
            ParamValue::Bool(x) => *x,
            v => panic!("parameter {name:?} is {v:?}, not a boolean"),
        }
    }

    /// A `Choice` parameter.
    pub fn str(&self, name: &str) -> &str {
        match self.get(name) {
            ParamValue::Str(s) => s,
            v => panic!("parameter {name:?} is {v:?}, not a choice"),
        }
    }

    /// All values, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &ParamValue)> {
        self.values.iter().map(|(n, v)| (*n, v))
    }
}
