//! # turnwise-envs
//!
//! The [`Env`] trait and turnwise's built-in, seeded text environments. Environments
//! never depend on libtorch: they exchange text only.

pub mod env;

pub use env::{Env, Info, Observation, Step};
