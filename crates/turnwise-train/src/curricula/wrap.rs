//! An environment wrapper whose episode start and steps pass through a [`Hook`]; every
//! other method is the wrapped environment's. ExIt's restarts ([`super::exit`]) and
//! SLEA-RL's retrieved experience ([`super::slea`]) are hooks.

use turnwise_core::ToolCall;
use turnwise_envs::snapshot::Snapshot;
use turnwise_envs::{ActionFormat, Env, Observation, Step, Text};

/// What a wrapper changes: the start of an episode and its steps (default: nothing).
pub trait Hook: Send {
    /// Starts the episode of `inner` for task `seed`.
    fn reset(&mut self, inner: &mut dyn Env, seed: u64) -> Observation {
        inner.reset(seed)
    }
    /// Applies `action` to `inner`.
    fn step(&mut self, inner: &mut dyn Env, action: &str) -> Step {
        inner.step(action)
    }
}

/// `inner` with `hook` on its episode start and steps.
pub struct Wrapped<H> {
    inner: Box<dyn Env>,
    hook: H,
}

impl<H: Hook> Wrapped<H> {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn Env>, hook: H) -> Self {
        Wrapped { inner, hook }
    }
}

impl<H: Hook> Env for Wrapped<H> {
    fn reset(&mut self, seed: u64) -> Observation {
        self.hook.reset(&mut *self.inner, seed)
    }
    fn step(&mut self, action: &str) -> Step {
        self.hook.step(&mut *self.inner, action)
    }
    fn instructions(&self) -> Text {
        self.inner.instructions()
    }
    fn stop(&self) -> Option<&'static str> {
        self.inner.stop()
    }
    fn action_format(&self) -> ActionFormat {
        self.inner.action_format()
    }
    fn expert_action(&self) -> Option<String> {
        self.inner.expert_action()
    }
    fn budget_left(&self) -> Option<u32> {
        self.inner.budget_left()
    }
    fn action_space(&self) -> Vec<Text> {
        self.inner.action_space()
    }
    fn gold_action(&self) -> Option<String> {
        self.inner.gold_action()
    }
    fn credit_fields(&self) -> &'static [&'static str] {
        self.inner.credit_fields()
    }
    fn reference_tool_calls(&self) -> Option<Vec<ToolCall>> {
        self.inner.reference_tool_calls()
    }
    fn snapshot(&self) -> Option<Snapshot> {
        self.inner.snapshot()
    }
    fn restore(&mut self, snapshot: &Snapshot) -> bool {
        self.inner.restore(snapshot)
    }
}
