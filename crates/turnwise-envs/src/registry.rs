//! The registry of environments by name (spec §10). An environment joins by one line in
//! [`ALL`].

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

/// The environment registered as `name`.
pub fn get(name: &str) -> Result<&'static EnvSpec, EnvError> {
    ALL.iter()
        .copied()
        .find(|s| s.name == name)
        .ok_or_else(|| EnvError::UnknownEnv {
            name: name.to_owned(),
            suggestion: closest(name, ALL.iter().map(|s| s.name)),
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
