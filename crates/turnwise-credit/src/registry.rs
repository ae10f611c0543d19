//! The registry of methods by name. A method joins by one line in its family's
//! `METHODS` list ([`crate::outcome::METHODS`], [`crate::turn::METHODS`]).

use serde_json::{Map, Value};
use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::Estimator;
use crate::output::CreditOutput;
use crate::params::{closest, Params};

/// Every registered method, outcome-level first.
pub fn all() -> impl Iterator<Item = &'static dyn Estimator> {
    crate::outcome::METHODS
        .iter()
        .chain(crate::turn::METHODS.iter())
        .copied()
}

/// The method registered as `name`.
pub fn get(name: &str) -> Result<&'static dyn Estimator, CreditError> {
    all()
        .find(|m| m.info().name == name)
        .ok_or_else(|| CreditError::UnknownMethod {
            name: name.to_owned(),
            suggestion: closest(name, all().map(|m| m.info().name)),
        })
}

/// Resolves parameters (JSON, then `key=value` overrides) and runs method `name`.
pub fn run(
    name: &str,
    batch: &Batch,
    params: &Map<String, Value>,
    overrides: &[(String, String)],
) -> Result<CreditOutput, CreditError> {
    let m = get(name)?;
    let p = Params::resolve(name, m.info().params, params, overrides)?;
    m.compute(batch, &p)
}
