//! The [`Estimator`] trait every registered method implements.

use turnwise_core::Batch;

use crate::columns::Columns;
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

/// What a method's main output is, so that a trainer knows how to apply it and can refuse,
/// before any rollout, a method it cannot apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// One advantage per turn, broadcast to the turn's action tokens.
    Advantages,
    /// One advantage per action token (`[trajectory][turn][token]`).
    TokenAdvantages,
    /// Per-turn rewards that replace the environment's (a reward shaper); an advantage
    /// estimator runs on them afterwards.
    Rewards,
    /// One reward of a response from its length (parameter `resp_len`), added to that
    /// response's reward (a reward shaper).
    LengthReward,
    /// One weight per trajectory, `∂J/∂s_i`, on its sequence score `s_i` (the mean
    /// log-probability of its action tokens), broadcast to its turns.
    SequenceWeights,
    /// Per-turn advantages of turns updated one after another, last turn first; turn t's
    /// advantage reads `seq_log_ratio` of the later turns measured after their update.
    ReverseSequential,
}

impl OutputKind {
    /// The kind's name as `turnwise methods` prints it.
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Advantages => "advantages",
            OutputKind::TokenAdvantages => "token advantages",
            OutputKind::Rewards => "rewards",
            OutputKind::LengthReward => "length reward",
            OutputKind::SequenceWeights => "sequence weights",
            OutputKind::ReverseSequential => "reverse-sequential advantages",
        }
    }

    /// Whether the method shapes rewards (an advantage estimator must follow it).
    pub fn is_shaper(self) -> bool {
        matches!(self, OutputKind::Rewards | OutputKind::LengthReward)
    }
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
    /// What the output holds, in words (`advantages (+ clip_eps per turn)`, …).
    pub output: &'static str,
    /// How the main output is applied.
    pub kind: OutputKind,
}

/// A credit-assignment method: a pure function of a batch and parameters.
pub trait Estimator: Sync {
    /// Name, paper, parameters and status.
    fn info(&self) -> &'static MethodInfo;

    /// Runs the method on `batch` with resolved `params`.
    fn compute(&self, batch: &Batch, params: &Params) -> Result<CreditOutput, CreditError>;

    /// Runs the method on flat [`Columns`] without building a [`Batch`], for methods that
    /// read only what the columns hold (outcome-level methods): the same values as
    /// [`Estimator::compute`] on the same groups, per turn in the columns' trajectory
    /// order. `None`: the method needs a [`Batch`] (the caller builds one).
    fn compute_columns(
        &self,
        _cols: &Columns<'_>,
        _params: &Params,
    ) -> Option<Result<CreditOutput, CreditError>> {
        None
    }
}
