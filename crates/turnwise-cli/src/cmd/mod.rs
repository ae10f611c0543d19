//! One module per subcommand.

pub mod advantages;
pub mod bench;
pub mod methods;
pub mod tokenizer;
