//! One module per subcommand.

pub mod advantages;
pub mod bench;
pub mod bench_model;
pub mod methods;
pub mod model;
pub mod tokenizer;
