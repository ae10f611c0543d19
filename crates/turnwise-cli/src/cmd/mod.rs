//! One module per subcommand.

pub mod advantages;
pub mod bench;
pub mod env;
pub mod envs;
pub mod eval;
pub mod loss;
pub mod methods;
pub mod play;
pub mod sft;
pub mod tokenizer;
pub mod train;
