//! The registry of methods by name. A built-in method joins by one line in its family's
//! `METHODS` list ([`crate::outcome::METHODS`], [`crate::turn::METHODS`]); a method defined
//! outside this crate joins at run time with [`register`] (a library user adds a method
//! without forking turnwise).

use std::sync::RwLock;

use serde_json::{Map, Value};
use turnwise_core::Batch;

use crate::error::CreditError;
use crate::estimator::Estimator;
use crate::output::CreditOutput;
use crate::params::{closest, Params};

/// Methods registered at run time, in registration order.
static REGISTERED: RwLock<Vec<&'static dyn Estimator>> = RwLock::new(Vec::new());

fn registered() -> Vec<&'static dyn Estimator> {
    REGISTERED.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Every method: the built-in ones (outcome-level first), then those added by
/// [`register`].
pub fn all() -> impl Iterator<Item = &'static dyn Estimator> {
    crate::outcome::METHODS
        .iter()
        .chain(crate::turn::METHODS.iter())
        .copied()
        .chain(registered())
}

/// Adds `method` to the registry, under `method.info().name`, for every later [`get`],
/// [`run`] and [`all`] of this process (the trainer, `turnwise advantages`, the Python
/// package). A name already registered is refused.
pub fn register(method: &'static dyn Estimator) -> Result<(), CreditError> {
    let name = method.info().name;
    let mut list = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    let taken = crate::outcome::METHODS
        .iter()
        .chain(crate::turn::METHODS.iter())
        .chain(list.iter())
        .any(|m| m.info().name == name);
    if taken {
        return Err(CreditError::BadParam {
            method: name.to_owned(),
            param: "name".into(),
            message: "a method of this name is already registered".into(),
        });
    }
    list.push(method);
    Ok(())
}

/// [`register`] for an owned estimator (it lives for the rest of the process).
pub fn register_boxed(method: Box<dyn Estimator>) -> Result<(), CreditError> {
    register(Box::leak(method))
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
