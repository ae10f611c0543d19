//! The built-in environments, one module each.

pub mod maze;
