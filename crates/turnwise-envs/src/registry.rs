//! The registry of environments by name (spec §10). A built-in environment joins by one
//! line in [`ALL`]; crates with remote environments add theirs with [`register`].

use std::sync::RwLock;

use crate::env::Env;
use crate::error::{closest, EnvError};
use crate::options::{OptionSpec, Options};

/// A registered environment: its name, documentation, typed options and constructor.
pub struct EnvSpec {
    /// The registry name, e.g. `lmrl/maze-fo`.
    pub name: &'static str,
    /// One paragraph: the source benchmark and what is exact or approximated.
    pub doc: &'static str,
    /// The options with their defaults.
    pub options: &'static [OptionSpec],
    /// Builds an environment from resolved options.
    pub make: fn(&Options) -> Result<Box<dyn Env>, EnvError>,
}

/// Every registered environment.
pub static ALL: &[&EnvSpec] = &[
    &crate::envs::maze::FO,
    &crate::envs::maze::PO,
    &crate::envs::wordle::LMRL,
    &crate::envs::wordle::STANDARD,
    &crate::envs::sokoban::SPEC,
    &crate::envs::frozenlake::SPEC,
    &crate::envs::bandit::SPEC,
    &crate::envs::math::SPEC,
    &crate::envs::try_again::SPEC,
    &crate::envs::kbqa::SPEC,
];

static EXTRA: RwLock<Vec<&'static EnvSpec>> = RwLock::new(Vec::new());

/// Registers environments defined outside this crate (remote ones: `turnwise-openenv`),
/// after the built-in ones. A name registered already is skipped, so calling it twice is
/// harmless.
pub fn register(specs: &[&'static EnvSpec]) {
    let mut extra = EXTRA.write().unwrap_or_else(|e| e.into_inner());
    for s in specs {
        if !ALL.iter().chain(extra.iter()).any(|x| x.name == s.name) {
            extra.push(s);
        }
    }
}

/// Every environment: the built-in ones ([`ALL`]), then the registered ones.
pub fn all() -> Vec<&'static EnvSpec> {
    let extra = EXTRA.read().unwrap_or_else(|e| e.into_inner());
    ALL.iter().copied().chain(extra.iter().copied()).collect()
}

/// The environment registered as `name`.
pub fn get(name: &str) -> Result<&'static EnvSpec, EnvError> {
    let all = all();
    all.iter()
        .copied()
        .find(|s| s.name == name)
        .ok_or_else(|| EnvError::UnknownEnv {
            name: name.to_owned(),
            suggestion: closest(name, all.iter().map(|s| s.name)),
        })
}

/// Builds environment `name` with `KEY=VALUE` overrides of its options.
pub fn make(name: &str, overrides: &[(String, String)]) -> Result<Box<dyn Env>, EnvError> {
    let spec = get(name)?;
    let opts = Options::resolve(spec.name, spec.options, overrides)?;
    (spec.make)(&opts)
}

/// Builds environment `name` from `KEY=VALUE` strings (as given on the command line).
pub fn make_from_strings(name: &str, kvs: &[String]) -> Result<Box<dyn Env>, EnvError> {
    let overrides = kvs
        .iter()
        .map(|s| Options::split_kv(s))
        .collect::<Result<Vec<_>, _>>()?;
    make(name, &overrides)
}
