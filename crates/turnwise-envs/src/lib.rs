//! # turnwise-envs
//!
//! The [`Env`] trait and turnwise's built-in, seeded text environments
//! (`docs/environments.md`; spec `environments.md` §10). Environments never depend on
//! libtorch: they exchange text only.
//!
//! - [`registry`]: environments by name with typed [`options`] and defaults.
//! - [`envs`]: LMRL maze and wordle, RAGEN sokoban / frozenlake / bandit, generated math,
//!   and the UFO try-again wrapper, each with an expert solver.
//! - [`render`] and [`history`]: faithful and chat prompt formats, and history modes.
//! - [`demos`]: expert demonstrations in the turnwise trajectory format.
//! - [`eval`]: LMRL's 25-start maze evaluation. [`score`]: LMRL score normalisation. [`seeding`]: episode RNGs and group seeds.

pub mod bench;
pub mod demos;
pub mod env;
pub mod envs;
pub mod error;
pub mod eval;
pub mod history;
pub mod options;
pub mod registry;
pub mod render;
pub mod score;
pub mod seeding;
pub mod session;
pub mod snapshot;
pub mod tools;

pub use env::{ActionFormat, Env, Info, Observation, Step, Text};
pub use error::EnvError;
pub use options::{InvalidPolicy, OptionKind, OptionSpec, Options};
pub use registry::EnvSpec;
