//! Python exceptions carrying the CLI's messages. Every turnwise error is a
//! `turnwise.TurnwiseError` (a `ValueError`); bad input of one kind is a subclass.

use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    turnwise,
    TurnwiseError,
    PyValueError,
    "Base class of turnwise's errors (a ValueError)."
);
create_exception!(
    turnwise,
    CreditError,
    TurnwiseError,
    "A credit-assignment method could not run: unknown method or parameter, a missing field (named with the method and the trajectory), or unusable input."
);
create_exception!(
    turnwise,
    ArrayError,
    TurnwiseError,
    "An input array has the wrong dtype, shape or length, or holds NaN or infinity where a value is required."
);
create_exception!(
    turnwise,
    EnvError,
    TurnwiseError,
    "An environment could not be built: unknown name or option, or a bad option value."
);
create_exception!(
    turnwise,
    FormatError,
    TurnwiseError,
    "A trajectory record does not follow the turnwise JSON Lines format (the message names the file or group, the line and the field)."
);

/// Adds the exception types to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("TurnwiseError", py.get_type::<TurnwiseError>())?;
    m.add("CreditError", py.get_type::<CreditError>())?;
    m.add("ArrayError", py.get_type::<ArrayError>())?;
    m.add("EnvError", py.get_type::<EnvError>())?;
    m.add("FormatError", py.get_type::<FormatError>())?;
    Ok(())
}

/// A credit error as `turnwise.CreditError`.
pub fn credit(e: turnwise_credit::CreditError) -> PyErr {
    CreditError::new_err(e.to_string())
}

/// An environment error as `turnwise.EnvError`.
pub fn env(e: turnwise_envs::EnvError) -> PyErr {
    EnvError::new_err(e.to_string())
}

/// A bad array as `turnwise.ArrayError`.
pub fn array(msg: impl Into<String>) -> PyErr {
    ArrayError::new_err(msg.into())
}

/// A core error: malformed records as `turnwise.FormatError`, I/O as `OSError`.
pub fn core(e: turnwise_core::Error) -> PyErr {
    match e {
        turnwise_core::Error::Parse(p) => FormatError::new_err(p.to_string()),
        io @ turnwise_core::Error::Io { .. } => PyOSError::new_err(io.to_string()),
    }
}
