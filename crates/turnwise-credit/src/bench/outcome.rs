//! Benchmark batches of the outcome-level methods.

use super::BenchCase;

/// The outcome-level benchmark cases.
pub fn cases(_scale: f64) -> Vec<BenchCase> {
    Vec::new()
}
