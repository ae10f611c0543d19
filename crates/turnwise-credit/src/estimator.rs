//! The [`Estimator`] trait every registered method implements.

use turnwise_core::Batch;

use crate::error::CreditError;
use crate::output::CreditOutput;
use crate::params::{ParamSpec, Params};

/// Whether a method reproduces the authors' code or rests on a spec assumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Reproduces the authors' released code (named).
    Exact(&'static str),
    /// Rests on an assumption of the spec (named), because no code or formula was published.
    Assumption(&'static str),
}

/// What `turnwise methods` and `docs/methods.md` show for a method.
#[derive(Debug, Clone, Copy)]
pub struct MethodInfo {
    /// Registered name (`--method NAME`).
    pub name: &'static str,
    /// Paper: short title and arXiv id.
    pub paper: &'static str,
    /// One-line idea.
    pub idea: &'static str,
    /// Input fields the method reads (wire names).
    pub fields: &'static [&'static str],
    /// Typed parameters with defaults.
    pub params: &'static [ParamSpec],
    /// Exact or assumption-based.
    pub status: Status,
    /// What the output holds: `advantages`, `rewards`, `weights`, …
    pub output: &'static str,
}

/// A credit-assignment method: a pure function of a batch and parameters.
pub trait Estimator: Sync {
    /// Name, paper, parameters and status.
    fn info(&self) -> &'static MethodInfo;

    /// Runs the method on `batch` with resolved `params`.
    fn compute(&self, batch: &Batch, params: &Params) -> Result<CreditOutput, CreditError>;
}
