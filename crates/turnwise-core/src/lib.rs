//! # turnwise-core
//!
//! The data model every other turnwise crate speaks: a [`Batch`] holds [`Group`]s (one task
//! or prompt, one shared seed), a group holds [`Trajectory`]s, a trajectory holds [`Turn`]s,
//! and a turn holds an observation [`Segment`] and an action [`Segment`]. Tokens the policy
//! produced live only in action segments, so the loss mask is known by construction (as in
//! LMRL-Gym's `Text(text, is_action)`), never recovered from a chat template.
//!
//! [`jsonl`] reads and writes the versioned JSON Lines format (`docs/formats.md`), which
//! also accepts the test-vector schema of the reference implementations. [`seed`] derives
//! the deterministic random streams used by environments and rollouts.
//!
//! This crate never depends on libtorch.

pub mod answer;
pub mod error;
pub mod jsonl;
pub mod seed;
pub mod trajectory;

pub use error::{Error, ParseError};
pub use trajectory::{Batch, Group, Segment, ToolCall, Trajectory, TrajectoryExt, Turn, TurnExt};
