//! The built-in environments, one module each.

pub mod maze;
pub mod ragen;
pub mod sokoban;
