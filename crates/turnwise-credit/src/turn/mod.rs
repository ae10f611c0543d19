//! Turn-level, intrinsic and hierarchical estimators (`../shared/spec/credit-turn.md`).
//! One file per method; each is registered by one line in [`METHODS`].

use crate::estimator::Estimator;

pub mod a2tgpo;
pub mod archer;
pub mod cluster;
pub mod hiper_hae;
pub mod igpo;
pub mod index_stats;
pub mod matchtir;
pub mod pbsd;
pub mod prefetch;
pub mod siop;
pub mod turn_level_gae;

/// The turn-level methods, in the order `turnwise methods` lists them.
pub static METHODS: &[&dyn Estimator] = &[
    &igpo::Igpo,
    &a2tgpo::A2tgpo,
    &siop::Siop,
    &pbsd::Pbsd,
    &matchtir::Matchtir,
    &hiper_hae::HiperHae,
    &archer::Archer,
    &turn_level_gae::TurnLevelGae,
];
