//! One module per subcommand.

pub mod advantages;
pub mod bench;
pub mod bench_model;
pub mod compare;
pub mod env;
pub mod envs;
pub mod eval;
pub mod loss;
pub mod methods;
pub mod model;
pub mod play;
pub mod report;
pub mod sft;
pub mod tokenizer;
pub mod train;
