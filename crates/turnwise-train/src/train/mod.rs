//! Training: environments ([`envs`]), rows and updates ([`rows`], [`update`]), gold-answer
//! log-probs ([`gold`]), SFT
//! ([`sft`]), evaluation ([`eval`]), checkpoints ([`checkpoint`]), one RL step ([`step`]) and the run loop ([`run`]).

pub mod checkpoint;
pub mod envs;
pub mod eval;
pub mod fields;
pub mod gold;
pub mod rows;
pub mod run;
pub mod sft;
pub mod step;
pub mod update;
