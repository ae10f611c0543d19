//! # turnwise-train
//!
//! The trainer: policy losses on libtorch ([`loss`]), typed TOML configuration
//! ([`config`]), AdamW with warm-up and cosine schedules ([`optim`]), rollouts that keep
//! the model's token ids (token-in / token-out), SFT warm starts, checkpoints and runs.
//! Data flows env → rollout → Trajectory → credit → loss → optimizer → policy.

pub mod config;
pub mod curricula;
pub mod loss;
pub mod optim;
pub mod policy;
pub mod rollout;
pub mod train;
