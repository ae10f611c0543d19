//! One episode driven by policy outputs, as the trainer drives it: the prompt of each turn
//! comes from [`Style::observation`] and each output goes through [`Style::parse`] before
//! [`Env::step`]. `turnwise play` and `turnwise env replay` use it, so a person types
//! exactly what a policy would write in the chosen format and sees the prompt it would see.

use crate::env::{Env, Observation, Step};
use crate::render::{Style, TurnCtx};

/// An episode in progress.
pub struct Session<'e> {
    env: &'e mut dyn Env,
    style: Style,
    max_tokens: usize,
    turn: usize,
    over: bool,
}

/// What one policy output did.
#[derive(Debug, Clone)]
pub struct Acted {
    /// The action the environment was stepped with (`""` when the format was wrong).
    pub action: String,
    /// The output followed the format.
    pub format_ok: bool,
    /// The environment's step.
    pub step: Step,
    /// The next turn's prompt text (`None` once the episode is over).
    pub prompt: Option<String>,
}

impl<'e> Session<'e> {
    /// Resets `env` from `seed`; returns the session, the first observation and the first
    /// prompt text. `max_tokens` is the response budget RAGEN's prompt states.
    pub fn start(
        env: &'e mut dyn Env,
        style: Style,
        max_tokens: usize,
        seed: u64,
    ) -> (Session<'e>, Observation, String) {
        let obs = env.reset(seed);
        let ctx = TurnCtx {
            turn: 1,
            max_tokens,
        };
        let prompt = style.observation(env, ctx, &obs.text, None);
        let s = Session {
            env,
            style,
            max_tokens,
            turn: 1,
            over: false,
        };
        (s, obs, prompt)
    }

    /// The system message of the format, if any.
    pub fn system(&self) -> Option<&'static str> {
        self.style.system(self.env)
    }

    /// What ends an action in this format (the stop string, `</answer>`, `</tool_call>`;
    /// `None`: the end of the model's message, free text).
    pub fn end_of_action(&self) -> Option<&'static str> {
        self.style.end_of_action(self.env)
    }

    /// The environment.
    pub fn env(&self) -> &dyn Env {
        self.env
    }

    /// The episode is over.
    pub fn is_over(&self) -> bool {
        self.over
    }

    /// Parses `output` as the trainer does and steps the environment with the action.
    pub fn act(&mut self, output: &str) -> Acted {
        let parsed = self.style.parse(self.env, output);
        let action = parsed.action.to_owned();
        let step = self.env.step(&action);
        self.over = step.done();
        self.turn += 1;
        let prompt = (!self.over).then(|| {
            let ctx = TurnCtx {
                turn: self.turn,
                max_tokens: self.max_tokens,
            };
            self.style
                .observation(self.env, ctx, &step.observation, Some(step.reward))
        });
        Acted {
            action,
            format_ok: parsed.format_ok,
            step,
            prompt,
        }
    }
}
