//! One module per subcommand.

pub mod advantages;
pub mod methods;
pub mod tokenizer;
