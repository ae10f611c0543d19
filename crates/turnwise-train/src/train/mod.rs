//! Training: rows and updates ([`rows`], [`update`]).

pub mod rows;
pub mod update;
