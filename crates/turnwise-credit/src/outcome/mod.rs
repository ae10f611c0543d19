//! Group- and outcome-level estimators (`../shared/spec/credit-outcome.md`).
//! One file per method; each is registered by one line in [`METHODS`].

use crate::estimator::Estimator;

pub mod a_grae;
pub mod common;
pub mod dapo_overlong;
pub mod disco;
pub mod gigpo;
pub mod grpo;
pub mod mapo;
pub mod over_turn_mask;
pub mod pre_grpo;
pub mod reinforce_pp;
pub mod rloo;
pub mod scrl;
pub mod seeupo;
pub mod trloo;
pub mod turn_mean_baseline;
pub mod ufo_reward;

/// The outcome-level methods, in the order `turnwise methods` lists them.
pub static METHODS: &[&dyn Estimator] = &[
    &grpo::Grpo,
    &grpo::DrGrpo,
    &rloo::Rloo,
    &reinforce_pp::ReinforcePp,
    &reinforce_pp::ReinforcePpTokens,
    &trloo::Trloo,
    &turn_mean_baseline::TurnMeanBaseline,
    &gigpo::Gigpo,
    &a_grae::AGrae,
    &pre_grpo::PreGrpo,
    &mapo::Mapo,
    &scrl::Scrl,
    &disco::Disco,
    &seeupo::Seeupo,
    &over_turn_mask::OverTurnMask,
    &ufo_reward::UfoReward,
    &dapo_overlong::DapoOverlong,
];
