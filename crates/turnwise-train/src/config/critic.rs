//! `[critic]`: the critic of critic-based credit methods (turn-level GAE, HiPER, ArCHer).

use serde::{Deserialize, Serialize};

/// Where the critic's features come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CriticKind {
    /// A linear value head on the policy's final hidden state (of the last context token
    /// for state values, of the last action token for action values); the value loss
    /// trains the head only (the policy's features are read without gradient).
    Head,
    /// Its own small transformer (shape below, the policy's tokenizer) with a linear value
    /// head, trained end to end by the value loss.
    Separate,
}

/// `[critic]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CriticConfig {
    /// `head` or `separate`.
    pub kind: CriticKind,
    /// Width of the separate network.
    pub d_model: i64,
    /// Layers of the separate network.
    pub layers: i64,
    /// Attention heads of the separate network.
    pub heads: i64,
    /// MLP width of the separate network.
    pub d_ff: i64,
    /// Learning rate of the critic's AdamW (betas, ε, gradient clip from `[optim]`).
    pub lr: f64,
    /// ε_v of the clipped value loss (PPO's value clipping around the values the step's
    /// credit used); 0 turns clipping off.
    pub value_clip: f64,
    /// Critic optimiser steps per RL step.
    pub epochs: usize,
    /// Polyak rate τ of the target critic (ArCHer): target ← (1 − τ)·target + τ·critic.
    pub tau: f64,
    /// Critic warm-up (verl's `trainer.critic_warmup`): for the first `warmup_steps` RL
    /// steps the critic learns from the rollouts while the policy is not updated, so the
    /// method's first policy updates use fitted values instead of an untrained critic's.
    pub warmup_steps: u64,
}

impl Default for CriticConfig {
    fn default() -> Self {
        CriticConfig {
            kind: CriticKind::Separate,
            d_model: 64,
            layers: 2,
            heads: 4,
            d_ff: 128,
            lr: 1e-3,
            value_clip: 0.5,
            epochs: 2,
            tau: 0.1,
            warmup_steps: 0,
        }
    }
}
