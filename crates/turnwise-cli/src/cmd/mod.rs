//! One module per subcommand.

pub mod advantages;
pub mod bench;
pub mod env;
pub mod envs;
pub mod methods;
pub mod play;
pub mod tokenizer;
