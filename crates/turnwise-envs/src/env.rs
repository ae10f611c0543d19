//! The environment interface (`../shared/spec/environments.md` §10, §10.1).

/// What `info` carries after a reset or a step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Info {
    /// The episode's task was solved.
    pub success: bool,
    /// The action parsed and was legal.
    pub action_valid: bool,
    /// The action changed the state.
    pub action_effective: bool,
    /// The task's ground truth (answer, hidden word), where one exists.
    pub ground_truth: Option<String>,
    /// A key of the current state, usable as GiGPO's anchor.
    pub state_key: Option<String>,
}

/// The first observation of an episode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Text shown to the policy.
    pub text: String,
    /// Information about the initial state.
    pub info: Info,
}

/// The result of one step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// Text shown to the policy after the action.
    pub observation: String,
    /// The step's reward.
    pub reward: f64,
    /// The episode reached a terminal state of the environment.
    pub terminated: bool,
    /// The episode was cut by a step limit (kept apart from `terminated`).
    pub truncated: bool,
    /// Information about the step.
    pub info: Info,
}

/// A text environment. The same seed gives the same episode on any machine.
pub trait Env: Send {
    /// Starts an episode from `seed`.
    fn reset(&mut self, seed: u64) -> Observation;

    /// Applies one action: the text the policy produced before its stop string.
    /// Never panics, whatever the text.
    fn step(&mut self, action: &str) -> Step;
}
