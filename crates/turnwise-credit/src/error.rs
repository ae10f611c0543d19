//! Errors of credit assignment. Missing inputs name the field, the method and where.

/// Why a method could not run on a batch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CreditError {
    /// No method is registered under this name.
    #[error("unknown method {name:?}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    UnknownMethod {
        /// The name asked for.
        name: String,
        /// The closest registered name.
        suggestion: Option<String>,
    },
    /// A parameter is unknown or has the wrong type or value.
    #[error("method {method}: parameter {param}: {message}")]
    BadParam {
        /// The method.
        method: String,
        /// The parameter.
        param: String,
        /// What is wrong.
        message: String,
    },
    /// The method needs a field the input does not have.
    #[error("method {method} needs field `{field}`, missing at {location}")]
    MissingField {
        /// The method.
        method: &'static str,
        /// The missing field (wire name).
        field: &'static str,
        /// Where: `trajectory "t0" turn 2`, `trajectory "t0"`, or `group "p0"`.
        location: String,
    },
    /// The input is present but unusable (wrong length, inconsistent values).
    #[error("method {method}: {message}")]
    BadInput {
        /// The method.
        method: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl CreditError {
    /// A missing per-turn field.
    pub fn missing_turn(
        method: &'static str,
        field: &'static str,
        traj: &str,
        turn: usize,
    ) -> Self {
        CreditError::MissingField {
            method,
            field,
            location: format!("trajectory {traj:?} turn {turn}"),
        }
    }

    /// A missing per-trajectory field.
    pub fn missing_traj(method: &'static str, field: &'static str, traj: &str) -> Self {
        CreditError::MissingField {
            method,
            field,
            location: format!("trajectory {traj:?}"),
        }
    }

    /// A missing per-group field.
    pub fn missing_group(method: &'static str, field: &'static str, group: &str) -> Self {
        CreditError::MissingField {
            method,
            field,
            location: format!("group {group:?}"),
        }
    }
}
