//! Training: environments ([`envs`]), rows and updates ([`rows`], [`update`]), SFT
//! ([`sft`]), evaluation ([`eval`]), checkpoints ([`checkpoint`]) and the run loop ([`run`]).

pub mod checkpoint;
pub mod envs;
pub mod eval;
pub mod rows;
pub mod run;
pub mod sft;
pub mod update;
