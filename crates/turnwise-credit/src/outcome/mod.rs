//! Group- and outcome-level estimators (`../shared/spec/credit-outcome.md`).
//! One file per method; each is registered by one line in [`METHODS`].

use crate::estimator::Estimator;

pub mod grpo;

/// The outcome-level methods, in the order `turnwise methods` lists them.
pub static METHODS: &[&dyn Estimator] = &[&grpo::Grpo, &grpo::DrGrpo];
