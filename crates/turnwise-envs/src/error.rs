//! Errors of the environment registry (bad names, unknown options, bad option values).

/// An error building an environment from a name and options.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EnvError {
    /// No environment is registered under this name.
    #[error("unknown environment `{name}`{}", hint(suggestion))]
    UnknownEnv {
        /// The name asked for.
        name: String,
        /// The closest registered name.
        suggestion: Option<String>,
    },
    /// The environment has no option of this name.
    #[error("environment `{env}` has no option `{option}`{}", hint(suggestion))]
    UnknownOption {
        /// The environment.
        env: String,
        /// The option asked for.
        option: String,
        /// The closest option name.
        suggestion: Option<String>,
    },
    /// An option's value does not parse or is out of range.
    #[error("environment `{env}`, option `{option}`: bad value `{value}` (expected {expected})")]
    BadValue {
        /// The environment.
        env: String,
        /// The option.
        option: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// The environment cannot be reached (a remote server that is down).
    #[error("environment `{env}`: {message}")]
    Unavailable {
        /// The environment.
        env: String,
        /// What failed, naming the address.
        message: String,
    },
    /// An option override is not of the form `KEY=VALUE`.
    #[error("option `{0}` is not of the form KEY=VALUE")]
    NotKeyValue(String),
}

fn hint(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// The candidate closest to `name` by edit distance, when it is reasonably close.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    candidates
        .map(|c| (levenshtein(name, c), c))
        .min()
        .filter(|(d, c)| *d <= c.len().max(name.len()) / 2 + 1)
        .map(|(_, c)| c.to_owned())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
