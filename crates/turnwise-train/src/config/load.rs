//! Reading a configuration: TOML text → table → `--set` overrides → typed [`Config`],
//! with errors that name the file, the key path and, for a misspelt key, the closest
//! valid one.

use std::path::Path;

use super::sections::Config;

/// A configuration error; the message names the source and the key path.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ConfigError {
    /// The file (or `--set`, or `built-in default`).
    pub source_name: String,
    /// What is wrong, with the key path.
    pub message: String,
}

fn err(source_name: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        source_name: source_name.to_owned(),
        message: message.into(),
    }
}

/// The words between backticks of a serde message (unknown field, expected names).
fn backticked(msg: &str) -> Vec<&str> {
    msg.split('`').skip(1).step_by(2).collect()
}

/// Adds "did you mean …?" to serde's unknown-field / unknown-variant messages.
fn explain(msg: &str) -> String {
    if msg.starts_with("unknown field") || msg.starts_with("unknown variant") {
        let words = backticked(msg);
        if let Some((bad, valid)) = words.split_first() {
            if let Some(c) = closest(bad, valid) {
                return format!("{msg} (did you mean `{c}`?)");
            }
        }
    }
    msg.to_owned()
}

fn closest<'a>(bad: &str, valid: &[&'a str]) -> Option<&'a str> {
    valid
        .iter()
        .map(|v| (strsim::levenshtein(bad, v), *v))
        .filter(|(d, v)| *d <= (v.len().max(bad.len()) / 2).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

/// Parses TOML `text` (named `source_name` in errors) with `--set` overrides into a config.
pub fn parse(text: &str, source_name: &str, sets: &[String]) -> Result<Config, ConfigError> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(source_name, e.to_string().trim_end().to_owned()))?;
    for s in sets {
        apply_set(&mut table, s).map_err(|m| err("--set", m))?;
    }
    let source_name = if sets.is_empty() {
        source_name.to_owned()
    } else {
        format!("{source_name} with --set overrides")
    };
    let cfg: Config = serde_path_to_error::deserialize(table).map_err(|e| {
        let path = e.path().to_string();
        let msg = explain(&e.inner().to_string());
        err(&source_name, format!("key `{path}`: {msg}"))
    })?;
    super::validate::validate(&cfg).map_err(|m| err(&source_name, m))?;
    Ok(cfg)
}

/// Reads `path` (None: the built-in default) and applies `sets`.
pub fn load(path: Option<&Path>, sets: &[String]) -> Result<Config, ConfigError> {
    match path {
        None => parse(super::DEFAULT_TOML, "built-in configs/maze.toml", sets),
        Some(p) => {
            let name = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| err(&name, e.to_string()))?;
            parse(&text, &name, sets)
        }
    }
}

/// Applies one `KEY=VALUE` override on a dotted path. VALUE is read as a TOML value
/// (`0.5`, `true`, `"x"`, `[1, 2]`, `{a = 1}`), or as a bare string when it is not one.
pub fn apply_set(table: &mut toml::Table, kv: &str) -> Result<(), String> {
    let (key, raw) = kv
        .split_once('=')
        .ok_or_else(|| format!("{kv:?}: expected KEY=VALUE"))?;
    let key = key.trim();
    let raw = raw.trim();
    let value = match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.to_owned()),
    };
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("{key:?}: empty segment in dotted key"));
    }
    let (last, parents) = parts.split_last().expect("non-empty split");
    let mut cur = table;
    for (i, p) in parents.iter().enumerate() {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("{key:?}: `{}` is not a table", parts[..=i].join(".")))?;
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

/// A TOML table as a JSON object (for the credit registry).
pub fn toml_to_json(t: &toml::Table) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}
