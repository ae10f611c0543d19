//! One module per subcommand.

pub mod advantages;
pub mod env;
pub mod envs;
pub mod bench;
pub mod methods;
pub mod loss;
pub mod play;
pub mod eval;
pub mod sft;
pub mod train;
pub mod tokenizer;
