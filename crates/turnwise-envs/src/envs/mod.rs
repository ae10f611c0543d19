//! The built-in environments, one module each.

pub mod bandit;
pub mod frozenlake;
pub mod kbqa;
pub mod math;
pub mod maze;
pub mod ragen;
pub mod sokoban;
pub mod try_again;
pub mod wordle;
