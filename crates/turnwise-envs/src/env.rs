//! The environment interface (`../shared/spec/environments.md` §10, §10.1).
//!
//! Texts are `Cow<'static, str>` so that environments with a small state space (the LMRL
//! maze) hand out precomputed strings without allocating per step (task item 6).

use std::borrow::Cow;

use turnwise_core::ToolCall;

/// A text that is either precomputed (`'static`) or built for this step.
pub type Text = Cow<'static, str>;

/// What `info` carries after a reset or a step (spec §10: `success`, `action_is_valid`,
/// `action_is_effective`, `ground_truth`; §10.1.7).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Info {
    /// The episode's task was solved.
    pub success: bool,
    /// The action parsed and was legal.
    pub action_valid: bool,
    /// The action changed the state.
    pub action_effective: bool,
    /// The task's ground truth (answer, hidden word), where one exists.
    pub ground_truth: Option<Text>,
    /// A key of the current state, usable as GiGPO's anchor.
    pub state_key: Option<Text>,
    /// Tool calls the action made (tool environments; MatchTIR's `tool_calls`), the
    /// final `answer` call excluded.
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Token F1 of the answer given in this step (tool environments; MatchTIR's
    /// `answer_f1`), `None` when the step gave no answer.
    pub answer_f1: Option<f64>,
    /// Task progress after the step, in [0, 1] (1: solved), where the environment defines
    /// one (PRE-GRPO's and MAPO's per-turn quality `score`; each environment documents
    /// its measure in `docs/environments.md`).
    pub progress: Option<f64>,
    /// The subgoal the agent is on after the step (hierarchical methods: HiPER starts a
    /// new segment when it changes), where the environment defines subgoals.
    pub subgoal: Option<u32>,
    /// The answer the step gave, where it is not the action text itself (single-answer
    /// tasks whose answer sits inside a longer action); `None`: the action is the answer.
    pub answer: Option<Text>,
    /// Why the environment could not run the step (a remote server that timed out or
    /// died); such a step is `truncated` and the episode is recorded as failed.
    pub error: Option<Text>,
}

/// Progress milestones that mark subgoals where an environment has no subgoals of its own:
/// each quarter of the task's progress ([`Info::progress`]) is one.
pub const MILESTONES: u32 = 4;

/// The progress milestone `p` has reached: `⌊4·p⌋` for `p` in [0, 1].
pub fn milestone(p: f64) -> u32 {
    (p.clamp(0.0, 1.0) * MILESTONES as f64).floor() as u32
}

/// How a policy writes an action in an environment's own (faithful) format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionFormat {
    /// Raw text ending in a stop string (LMRL: `move up\n`).
    Line(&'static str),
    /// `<think>…</think><answer>…</answer>` chat turns (RAGEN, UFO).
    AnswerTag,
    /// Hermes / Qwen tool calls, `<tool_call>{"name": …, "arguments": {…}}</tool_call>`;
    /// the environment reads the whole output and answers with `<tool_response>` blocks.
    ToolCall,
    /// Free text: the whole reply is the action, ended by the model's end of message (its
    /// end-of-turn or end-of-sequence token) or the token budget; the environment reads
    /// what it needs from it (math's last number, as verl's GSM8K `flexible` grader and
    /// TRL's reward functions do). For models too small to follow a tag format.
    Free,
}

/// The first observation of an episode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Text shown to the policy.
    pub text: Text,
    /// Information about the initial state.
    pub info: Info,
}

/// The result of one step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// Text shown to the policy after the action.
    pub observation: Text,
    /// The step's reward.
    pub reward: f64,
    /// The episode reached a terminal state of the environment.
    pub terminated: bool,
    /// The episode was cut by a step limit (kept apart from `terminated`, spec §10.1.1).
    pub truncated: bool,
    /// Information about the step.
    pub info: Info,
}

impl Step {
    /// `terminated || truncated`: the episode is over.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

/// A text environment. The same seed gives the same episode on any machine.
pub trait Env: Send {
    /// Starts an episode from `seed`.
    fn reset(&mut self, seed: u64) -> Observation;

    /// Applies one action: the text the policy produced before its stop string.
    /// Never panics, whatever the text.
    fn step(&mut self, action: &str) -> Step;

    /// The task instructions shown before the first observation (RAGEN's `env_instruction`
    /// with legend and action list; empty for LMRL's raw-text tasks).
    fn instructions(&self) -> Text {
        Text::Borrowed("")
    }

    /// The string that ends an action in the faithful format (LMRL: `"\n"`); `None` when
    /// the original benchmark used chat turns with `<answer>` tags (RAGEN, UFO).
    fn stop(&self) -> Option<&'static str> {
        None
    }

    /// The action format of the faithful renderer. The default follows [`Env::stop`]:
    /// a stop string means [`ActionFormat::Line`], none means [`ActionFormat::AnswerTag`].
    fn action_format(&self) -> ActionFormat {
        match self.stop() {
            Some(s) => ActionFormat::Line(s),
            None => ActionFormat::AnswerTag,
        }
    }

    /// An optimal (or documented near-optimal) action for the current state, in the
    /// env's action text; `None` once the episode is over. Used by `turnwise env demos`.
    fn expert_action(&self) -> Option<String>;

    /// Actions (RAGEN) or turns left in the episode's budget, for prompts that show it.
    fn budget_left(&self) -> Option<u32> {
        None
    }

    /// Valid single-action texts, for ε-random exploration in demonstrations and benches.
    fn action_space(&self) -> Vec<Text>;

    /// The task's answer as an action text (its ground truth in the action format), for the
    /// gold-answer credit methods (IGPO, A²TGPO, SIOP: the policy's log-probability of this
    /// answer after each turn); `None` where the task has no single answer. Valid after
    /// `reset`, for the whole episode.
    fn gold_action(&self) -> Option<String> {
        None
    }

    /// The credit-method input fields (`docs/formats.md` wire names) this environment's
    /// steps give the trainer: `score` (from [`Info::progress`]), `subgoal` and `switch`
    /// (from [`Info::subgoal`]), `valid`, `answer` and `correct` (graded single-answer
    /// attempts: the parsed action or [`Info::answer`], `action_valid`, `success`),
    /// `tool_calls`, `answer_f1` and `gt_tool_calls` (tool environments). Default: none.
    fn credit_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// The ground-truth tool-call trace of the task (MatchTIR's `gt_tool_calls`): the calls
    /// the expert makes, the final `answer` excluded; `None` for environments without
    /// tools. Valid after `reset`.
    fn reference_tool_calls(&self) -> Option<Vec<ToolCall>> {
        None
    }

    /// A snapshot of the current state ([`crate::snapshot`]; ExIt restarts episodes from
    /// intermediate states). `None` where unsupported: every built-in environment supports
    /// it, an external one may not.
    fn snapshot(&self) -> Option<crate::snapshot::Snapshot> {
        None
    }

    /// Restores a state saved by [`Env::snapshot`] of an environment of the same kind;
    /// the following steps are exactly those the original would have taken. Returns
    /// `false`, leaving the environment unchanged, for a snapshot it cannot restore.
    fn restore(&mut self, snapshot: &crate::snapshot::Snapshot) -> bool {
        let _ = snapshot;
        false
    }

    /// Steps wait on I/O (an environment server): the rollout steps such environments
    /// concurrently rather than one after another.
    fn is_remote(&self) -> bool {
        false
    }
}
