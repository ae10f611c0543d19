//! `[env] format`: how an episode's texts become the policy's token ids.
//!
//! - `text`: observations are encoded as they are and concatenated with the sampled actions
//!   (LMRL's raw text; a from-scratch model's word vocabulary).
//! - `chat`: the episode is a conversation in the model's own chat template: a system
//!   message (the environment's instructions), each observation a user message, each action
//!   the assistant message the model sampled, ended by the end-of-turn token it sampled.
//!   The context only grows: the ids that the template puts after an action (its closing,
//!   the next user message, the generation prompt) are appended to the sampled ids,
//!   never re-rendering the history ([`turnwise_model::tokenizer::ChatTurns`]). Loss falls
//!   on sampled tokens only, whatever the template: masks come from the token spans of each
//!   turn, not from parsing one template's markup.

use serde::{Deserialize, Serialize};
use turnwise_core::trajectory::Text;
use turnwise_envs::env::ActionFormat;
use turnwise_envs::render::{Parsed, Style};
use turnwise_envs::Env;

use crate::policy::PolicyTokenizer;

/// How episodes are rendered into token ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Raw text: observation ids then action ids.
    #[default]
    Text,
    /// The model's chat template (system, user and assistant messages).
    Chat,
}

impl Format {
    /// The name in configurations (`text`, `chat`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Chat => "chat",
        }
    }
}

/// Parses a sampled action `output` (decoded without special tokens) into the environment
/// action. As `style` does, except that in the chat format the end of the assistant message
/// also ends a line action (LMRL's stop string `"\n"`): a chat model closes its message with
/// its end-of-turn token instead of a newline.
pub fn parse<'a>(format: Format, style: Style, env: &dyn Env, output: &'a str) -> Parsed<'a> {
    if let (Format::Chat, ActionFormat::Line(stop)) = (format, env.action_format()) {
        if !output.contains(stop) {
            return Parsed {
                action: output.trim(),
                format_ok: true,
            };
        }
    }
    style.parse(env, output)
}

/// The system message and the user message of an observation rendered by the style:
/// in the first observation the environment's instructions become the system message.
fn split_instructions<'a>(env: &dyn Env, rendered: &'a str, first: bool) -> (String, &'a str) {
    if !first {
        return (String::new(), rendered);
    }
    let instr = env.instructions();
    match rendered.strip_prefix(&*instr) {
        Some(rest) if !instr.is_empty() => (instr.trim_end().to_owned(), rest.trim_start()),
        _ => (String::new(), rendered),
    }
}

/// The text and ids of an observation: `rendered` (the style's rendering of it) after the
/// action `prev_action` (None: the episode's first observation).
pub fn observation(
    format: Format,
    tok: &PolicyTokenizer,
    env: &dyn Env,
    prev_action: Option<&[u32]>,
    rendered: &str,
) -> anyhow::Result<Text> {
    match format {
        Format::Text => Ok(Text {
            text: rendered.to_owned(),
            token_ids: tok.encode(rendered)?,
        }),
        Format::Chat => {
            let turns = tok.chat_turns()?;
            let (system, user) = split_instructions(env, rendered, prev_action.is_none());
            let piece = match prev_action {
                None => turns.opening(&system, user),
                Some(ids) => turns.after_action(ids, user),
            }
            .map_err(|e| anyhow::anyhow!("env.format = \"chat\": {e}"))?;
            Ok(Text {
                text: piece.text,
                token_ids: piece.ids,
            })
        }
    }
}
