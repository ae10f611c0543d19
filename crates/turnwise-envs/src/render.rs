//! Renderers (spec §10 "two renderers"): how an environment's texts become a prompt and
//! how a policy's output becomes an environment action.
//!
//! - [`Style::Faithful`] reproduces the original benchmark byte for byte: LMRL's raw lines
//!   (observation text, action ending in the stop string `"\n"`), or RAGEN's chat turns
//!   (`\nTurn {i}:\nState:\n…`, `<think>…</think><answer>…</answer>`, spec §2).
//! - [`Style::Chat`] asks any environment for `<think>…</think><answer>…</answer>`.
//!
//! Tool environments ([`ActionFormat::ToolCall`]) use the Hermes / Qwen tool-call format in
//! both styles: it is the chat format such models were trained on. Free-text environments
//! ([`ActionFormat::Free`]) take the whole reply in both styles.

use crate::env::{ActionFormat, Env};
use crate::tools;

/// A prompt style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The original benchmark's text.
    Faithful,
    /// Modern `<think>/<answer>` chat format.
    Chat,
}

impl std::str::FromStr for Style {
    type Err = String;
    fn from_str(s: &str) -> Result<Style, String> {
        match s {
            "faithful" => Ok(Style::Faithful),
            "chat" => Ok(Style::Chat),
            _ => Err(format!(
                "unknown render style `{s}` (expected faithful or chat)"
            )),
        }
    }
}

/// RAGEN's system message (`ctx_manager.py`).
pub const RAGEN_SYSTEM: &str = "You're a helpful assistant. ";

/// The system prompt of tool environments (their tool list comes with the instructions)
/// and of free-text environments (their instructions follow in the first message).
pub const TOOL_SYSTEM: &str = "You are a helpful assistant.";

/// The system prompt of the chat style.
pub const CHAT_SYSTEM: &str = "You are a helpful assistant. Think step by step inside <think> </think>, then give only your action inside <answer> </answer>.";

/// The result of parsing a policy's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The action text passed to [`Env::step`] (`""` when the format was wrong, which every
    /// environment treats as an invalid action).
    pub action: &'a str,
    /// The output followed the required format.
    pub format_ok: bool,
}

/// Per-turn facts a faithful RAGEN prompt shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnCtx {
    /// 1-based turn number.
    pub turn: usize,
    /// RAGEN's `max_tokens` shown in the prompt.
    pub max_tokens: usize,
}

fn answer_content(output: &str) -> Option<&str> {
    let start = output.find("<answer>")? + "<answer>".len();
    let len = output[start..].find("</answer>")?;
    Some(output[start..start + len].trim())
}

impl Style {
    /// The system message (`None`: no system message, LMRL raw text).
    pub fn system(&self, env: &dyn Env) -> Option<&'static str> {
        match (self, env.action_format()) {
            (_, ActionFormat::ToolCall | ActionFormat::Free) => Some(TOOL_SYSTEM),
            (Style::Faithful, ActionFormat::Line(_)) => None,
            (Style::Faithful, ActionFormat::AnswerTag) => Some(RAGEN_SYSTEM),
            (Style::Chat, _) => Some(CHAT_SYSTEM),
        }
    }

    /// The text appended before the policy's turn `ctx.turn`: the instructions (first turn
    /// only) and the observation `obs`, with the previous turn's reward for RAGEN.
    pub fn observation(
        &self,
        env: &dyn Env,
        ctx: TurnCtx,
        obs: &str,
        prev_reward: Option<f64>,
    ) -> String {
        let mut out = String::new();
        if ctx.turn <= 1 {
            out.push_str(&env.instructions());
        }
        match (self, env.action_format()) {
            (_, ActionFormat::ToolCall | ActionFormat::Free) => {
                if ctx.turn <= 1 && !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(obs);
                if !obs.ends_with('\n') {
                    out.push('\n');
                }
            }
            (Style::Faithful, ActionFormat::Line(_)) => out.push_str(obs),
            (Style::Faithful, ActionFormat::AnswerTag) => {
                if let Some(r) = prev_reward {
                    out.push_str(&format!("Reward:\n{r}\n"));
                }
                out.push_str(&format!("\nTurn {}:\nState:\n{obs}\n", ctx.turn));
                if let Some(left) = env.budget_left() {
                    out.push_str(&format!("You have {left} actions left. "));
                }
                out.push_str(&format!("Always output: <think> [Your thoughts] </think> <answer> [your answer] </answer> with no extra text. Strictly follow this format. Max response length: {} words (tokens).\n", ctx.max_tokens));
            }
            (Style::Chat, _) => {
                if ctx.turn <= 1 && !out.is_empty() {
                    out.push('\n');
                }
                if let Some(r) = prev_reward {
                    out.push_str(&format!("Reward: {r}\n"));
                }
                out.push_str(obs);
                if !obs.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The text that ends an action: the environment's stop string (faithful LMRL),
    /// `</tool_call>` (tool environments), none for free text (the reply ends at the
    /// model's end of message), else `</answer>` (RAGEN's format and the chat format close
    /// the answer block; RAGEN's generation then ends at the model's end-of-turn token).
    pub fn end_of_action(&self, env: &dyn Env) -> Option<&'static str> {
        match (self, env.action_format()) {
            (_, ActionFormat::ToolCall) => Some(tools::CALL_CLOSE),
            (_, ActionFormat::Free) => None,
            (Style::Faithful, ActionFormat::Line(stop)) => Some(stop),
            _ => Some("</answer>"),
        }
    }

    /// What a well-formatted output looks like, for people typing outputs (`play`).
    pub fn format_hint(&self, env: &dyn Env) -> String {
        match (self, env.action_format()) {
            (_, ActionFormat::ToolCall) => {
                "<tool_call>{\"name\": ..., \"arguments\": {...}}</tool_call>".into()
            }
            (_, ActionFormat::Free) => "any text (the whole reply is the action)".into(),
            (Style::Faithful, ActionFormat::Line(stop)) => format!("the action, then {stop:?}"),
            (Style::Faithful, ActionFormat::AnswerTag) => {
                "<think>...</think><answer>...</answer>".into()
            }
            (Style::Chat, _) => {
                "<think>...</think><answer>...</answer> (or just <answer>...</answer>)".into()
            }
        }
    }

    /// What a policy outputs to take `action` (used for demonstrations): LMRL's action line
    /// with its stop string, or an `<answer>` block.
    /// Tool environments' actions already are the policy's output (`<tool_call>` blocks).
    pub fn format_action(&self, env: &dyn Env, action: &str) -> String {
        match (self, env.action_format()) {
            (_, ActionFormat::ToolCall | ActionFormat::Free) => action.to_owned(),
            (Style::Faithful, ActionFormat::Line(stop)) => format!("{action}{stop}"),
            _ => format!("<think></think><answer>{action}</answer>"),
        }
    }

    /// Parses a policy's output into the environment action.
    /// Faithful LMRL: the text before the first stop string. Faithful RAGEN: RAGEN's
    /// `<think>(.*?)</think>\s*<answer>(.*?)</answer>` (the output includes the primed
    /// `<think>`). Chat: the content of the first `<answer>…</answer>`. Tool environments:
    /// the whole output (the environment reads its `<tool_call>` blocks), well formatted
    /// when every block parses ([`tools::parse_calls`]). Free text: the whole output,
    /// trimmed (the environment decides whether it holds an answer).
    pub fn parse<'a>(&self, env: &dyn Env, output: &'a str) -> Parsed<'a> {
        let fail = Parsed {
            action: "",
            format_ok: false,
        };
        match (self, env.action_format()) {
            (_, ActionFormat::ToolCall) => Parsed {
                action: output,
                format_ok: tools::well_formed(output),
            },
            (_, ActionFormat::Free) => Parsed {
                action: output.trim(),
                format_ok: true,
            },
            (Style::Faithful, ActionFormat::Line(stop)) => match output.find(stop) {
                Some(i) => Parsed {
                    action: &output[..i],
                    format_ok: true,
                },
                None => Parsed {
                    action: output,
                    format_ok: false,
                },
            },
            (Style::Faithful, ActionFormat::AnswerTag) => {
                let Some(t) = output.find("<think>") else {
                    return fail;
                };
                let Some(e) = output[t..].find("</think>") else {
                    return fail;
                };
                let rest = output[t + e + "</think>".len()..].trim_start();
                if !rest.starts_with("<answer>") {
                    return fail;
                }
                match answer_content(rest) {
                    Some(a) => Parsed {
                        action: a,
                        format_ok: true,
                    },
                    None => fail,
                }
            }
            (Style::Chat, _) => match answer_content(output) {
                Some(a) => Parsed {
                    action: a,
                    format_ok: true,
                },
                None => fail,
            },
        }
    }
}
