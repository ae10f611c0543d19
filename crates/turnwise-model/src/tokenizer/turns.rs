//! Chat-format episodes as token ids that only grow (token-in / token-out): the opening
//! (system message + first user message + generation prompt) is rendered once, and after
//! each sampled action only the ids of what the template puts after it (the rest of the
//! assistant message, the next user message, the next generation prompt) are appended. The
//! history is never re-rendered nor re-tokenised, so the ids a policy was sampled on are the
//! ids it is trained on, whatever the template does to earlier messages.
//!
//! How the piece after an action is found, for any template: the conversation
//! `[system, user, assistant(MARK), user(next)]` is rendered with the generation prompt and
//! the text after `MARK` is kept. If the action ends with a stop token the model sampled
//! (`<|im_end|>`, `<|eot_id|>`, `</s>`, …) and the template writes that token next (after
//! optional whitespace), the template's copy is dropped: the sampled token is the action's
//! own. An action cut off by the token budget gets the template's closing instead.
//!
//! Templates that drop parts of earlier assistant messages (Qwen3 removes `<think>` blocks
//! before the last user message) do not render prefixes consistently: turnwise keeps every
//! sampled token in the context (what the model saw while sampling), so such a context
//! differs from `apply_chat_template` of the whole conversation in exactly those blocks.
//! Templates that refuse a system message (Gemma) get the instructions as the start of the
//! first user message, separated by a blank line.

use super::chat::Message;
use super::error::{Result, TokenizerError};
use super::Tokenizer;

/// Stands for the sampled action when the template is rendered (a plain word, so templates
/// that `trim` contents keep it whole).
const MARK: &str = "TurnwiseSampledAction7f3a";

/// Text and token ids of one piece of a chat episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPiece {
    /// The rendered text of the piece.
    pub text: String,
    /// Its token ids (the template's text encoded without added special tokens, as
    /// `apply_chat_template(tokenize=True)` does).
    pub ids: Vec<u32>,
}

/// A tokenizer's chat template seen as a sequence of [`ChatPiece`]s (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct ChatTurns<'t> {
    tok: &'t Tokenizer,
    system_role: bool,
}

impl Tokenizer {
    /// The chat-format view of this tokenizer; an error if it has no chat template or the
    /// template fails to render a plain user / assistant exchange.
    pub fn chat_turns(&self) -> Result<ChatTurns<'_>> {
        let tpl = self.chat_template().ok_or_else(|| {
            TokenizerError::Template("this tokenizer has no chat_template".into())
        })?;
        let probe = [Message::new("user", "U"), Message::new("assistant", MARK)];
        tpl.render(&probe, false)?;
        let with_system = [Message::new("system", "S"), Message::new("user", "U")];
        Ok(ChatTurns {
            tok: self,
            system_role: tpl.render(&with_system, true).is_ok(),
        })
    }
}

impl ChatTurns<'_> {
    /// Whether the template accepts a `system` message.
    pub fn system_role(&self) -> bool {
        self.system_role
    }

    fn render(&self, system: &str, msgs: &[Message], generation_prompt: bool) -> Result<String> {
        let mut all = Vec::with_capacity(msgs.len() + 1);
        if !system.is_empty() {
            if self.system_role {
                all.push(Message::new("system", system));
            } else if let Some(first) = msgs.first() {
                let content = format!("{system}\n\n{}", first.content);
                all.push(Message::new(first.role.clone(), content));
                all.extend_from_slice(&msgs[1..]);
                return self.tok.apply_chat_template(&all, generation_prompt);
            }
        }
        all.extend_from_slice(msgs);
        self.tok.apply_chat_template(&all, generation_prompt)
    }

    fn piece(&self, text: String) -> Result<ChatPiece> {
        let ids = self.tok.encode(&text)?;
        Ok(ChatPiece { text, ids })
    }

    /// The opening of an episode: `system` (the environment's instructions; none if empty)
    /// and the first observation as a user message, then the generation prompt.
    pub fn opening(&self, system: &str, user: &str) -> Result<ChatPiece> {
        self.piece(self.render(system, &[Message::new("user", user)], true)?)
    }

    /// What follows a sampled action `action_ids`: the template's closing of the assistant
    /// message (without the stop token the model sampled), the next observation `user` as a
    /// user message, and the generation prompt.
    pub fn after_action(&self, action_ids: &[u32], user: &str) -> Result<ChatPiece> {
        let msgs = [
            Message::new("user", "U"),
            Message::new("assistant", MARK),
            Message::new("user", user),
        ];
        let full = self.render("S", &msgs, true)?;
        let at = full.find(MARK).ok_or_else(|| {
            TokenizerError::Template(
                "the template does not render an assistant message's content".into(),
            )
        })?;
        let mut rest = &full[at + MARK.len()..];
        if let Some(&last) = action_ids.last() {
            if self.tok.special().stop_ids.contains(&last) {
                let stop = self.tok.decode(&[last])?;
                let trimmed = rest.trim_start();
                if !stop.is_empty() && trimmed.starts_with(&stop) {
                    rest = &trimmed[stop.len()..];
                }
            }
        }
        self.piece(rest.to_owned())
    }
}
