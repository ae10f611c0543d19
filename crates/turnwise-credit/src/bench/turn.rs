//! Benchmark batches of the turn-level methods.

use super::BenchCase;

/// The turn-level benchmark cases.
pub fn cases(_scale: f64) -> Vec<BenchCase> {
    Vec::new()
}
