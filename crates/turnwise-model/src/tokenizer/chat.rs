//! Chat templates: the Jinja `chat_template` of `tokenizer_config.json`, rendered with
//! minijinja the way `transformers` (`apply_chat_template`) renders it with Jinja2.
//!
//! Matching Jinja2 settings of `transformers.utils.chat_template_utils`: `trim_blocks`,
//! `lstrip_blocks`, the `loopcontrols` extension, `raise_exception(msg)`, a `tojson` filter
//! equal to `json.dumps(x, ensure_ascii=False, indent=…)`, and Python string/dict/list methods
//! (`.strip()`, `.startswith()`, `.items()`, … via `minijinja_contrib::pycompat`). The context
//! holds `messages`, `add_generation_prompt`, `bos_token`, `eos_token`, and `tools` /
//! `documents` (null unless given). ASSUMPTION: `strftime_now` is not provided (templates that
//! use it test `strftime_now is defined` and fall back to a fixed date).

use minijinja::value::{Kwargs, Serde};
use minijinja::{Environment, Error, ErrorKind, Value};
use serde::{Deserialize, Serialize};

use super::error::{Result, TokenizerError};
use super::pyjson;

/// Name of the template inside the minijinja environment (shown in error messages).
const NAME: &str = "chat_template";

/// One chat message (`{"role": …, "content": …}`), the form every chat template accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user`, `assistant`, `tool`, …
    pub role: String,
    /// The message text.
    pub content: String,
}

impl Message {
    /// A message with the given role and content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    bos_token: Option<String>,
    eos_token: Option<String>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("source", &self.source)
            .finish()
    }
}

fn template_err(e: Error) -> TokenizerError {
    let mut msg = match e.line() {
        Some(line) => format!("line {line}: {e}"),
        None => e.to_string(),
    };
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    TokenizerError::Template(msg)
}

/// `raise_exception(message)`: aborts rendering with the template's own message.
fn raise_exception(msg: String) -> std::result::Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, msg))
}

/// `x | tojson(indent=None)`: Python's `json.dumps(x, ensure_ascii=False, indent=indent)`.
fn tojson(v: Value, kwargs: Kwargs) -> std::result::Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&v)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
    Ok(Value::from_safe_string(pyjson::dumps(&json, indent)))
}

impl ChatTemplate {
    /// Compiles `source`; `bos_token` / `eos_token` become template variables.
    pub fn new(source: &str, bos_token: Option<String>, eos_token: Option<String>) -> Result<Self> {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(template_err)?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_filter("tojson", tojson);
        env.add_template_owned(NAME, source.to_string())
            .map_err(template_err)?;
        Ok(Self {
            env,
            source: source.to_string(),
            bos_token,
            eos_token,
        })
    }

    /// The template text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders plain role/content messages.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let ctx = serde_json::json!({
            "messages": messages,
            "add_generation_prompt": add_generation_prompt,
        });
        self.render_json(&ctx)
    }

    /// Renders with a free-form JSON context (messages with `tool_calls`, `tools`, extra
    /// template variables). `bos_token`, `eos_token`, `tools` and `documents` are filled in
    /// where the context does not set them.
    pub fn render_json(&self, context: &serde_json::Value) -> Result<String> {
        let mut ctx = context
            .as_object()
            .cloned()
            .ok_or_else(|| TokenizerError::Template("the context must be a JSON object".into()))?;
        let defaults = [
            ("bos_token", self.bos_token.clone().into()),
            ("eos_token", self.eos_token.clone().into()),
            ("tools", serde_json::Value::Null),
            ("documents", serde_json::Value::Null),
            ("add_generation_prompt", false.into()),
        ];
        for (k, v) in defaults {
            ctx.entry(k).or_insert(v);
        }
        let tpl = self.env.get_template(NAME).map_err(template_err)?;
        tpl.render(Value::from(Serde(ctx))).map_err(template_err)
    }
}
