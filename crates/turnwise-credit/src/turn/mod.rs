//! Turn-level, intrinsic and hierarchical estimators (`../shared/spec/credit-turn.md`).
//! One file per method; each is registered by one line in [`METHODS`].

use crate::estimator::Estimator;

/// The turn-level methods, in the order `turnwise methods` lists them.
pub static METHODS: &[&dyn Estimator] = &[];
