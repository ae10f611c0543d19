//! The run configuration: typed TOML sections with a doc line per field, unknown keys
//! rejected with the closest valid key, wrong types reported with the key path, and
//! `--set KEY=VALUE` overrides on dotted paths ([`load`]), every value checked against its
//! range at load ([`validate`]), and the keys a resumed run may change ([`resume`]). The
//! built-in default is `configs/maze.toml`, compiled into the binary ([`DEFAULT_TOML`]).

mod critic;
mod curricula;
mod load;
pub mod resume;
mod sections;
mod validate;

pub use critic::{CriticConfig, CriticKind};
pub use curricula::CurriculaConfig;
pub use load::{apply_set, load, parse, toml_to_json, ConfigError};
pub use resume::leaves;
pub use sections::*;
pub use validate::{validate, Checks, Real};

/// The built-in default job (`configs/maze.toml`): SFT on noisy maze demos, then RL.
pub const DEFAULT_TOML: &str = include_str!("../../../../configs/maze.toml");

#[cfg(test)]
mod key_tests;
#[cfg(test)]
mod tests;
