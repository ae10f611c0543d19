//! # turnwise-credit
//!
//! Credit assignment for multi-turn RL: every estimator is a pure function from a
//! [`Batch`](turnwise_core::Batch) of trajectory groups to per-turn values (advantages,
//! or rewards for reward shapers), registered by name in [`registry`] with typed
//! parameters, defaults and a one-line doc.
//!
//! * [`outcome`]: group- and outcome-level methods (`../shared/spec/credit-outcome.md`):
//!   GRPO, Dr. GRPO, RLOO, REINFORCE++, TRLOO, GiGPO, A-GRAE, …
//! * [`turn`]: turn-level, intrinsic and hierarchical methods
//!   (`../shared/spec/credit-turn.md`): IGPO, A²TGPO, SIOP, PBSD, MatchTIR, …
//!
//! Adding a method is one new file plus one line in its family's `METHODS` list, or, from
//! another crate, one [`registry::register`] call.
//! This crate never depends on libtorch.

pub mod bench;
pub mod check;
pub mod columns;
pub mod error;
pub mod estimator;
pub mod moments;
pub mod outcome;
pub mod output;
pub mod params;
pub mod registry;
pub mod stats;
pub mod turn;

pub use columns::Columns;
pub use error::CreditError;
pub use estimator::{Estimator, MethodInfo, OutputKind, Status};
pub use output::{CreditOutput, Extra, TokenValues, TurnValues};
pub use params::{ParamKind, ParamSpec, ParamValue, Params};
