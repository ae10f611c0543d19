//! Synthetic batches for `turnwise bench credit` and the criterion benchmarks.

use serde_json::{Map, Value};
use turnwise_core::Batch;

pub mod outcome;
pub mod turn;

/// One benchmark: a method, its parameters, a synthetic batch and the time target.
pub struct BenchCase {
    /// Registered method name.
    pub method: &'static str,
    /// Parameters.
    pub params: Map<String, Value>,
    /// The input batch.
    pub batch: Batch,
    /// Target wall time in seconds, single-threaded (from the issue).
    pub target_seconds: f64,
}

/// Every benchmark case; `scale` multiplies the batch sizes (1.0 = the sizes).
pub fn all_cases(scale: f64) -> Vec<BenchCase> {
    let mut v = outcome::cases(scale);
    v.extend(turn::cases(scale));
    v
}
