//! The OpenEnv wire format (openenv-core 0.3, `env_server/http_server.py`, `env_client.py`,
//! `types.py`), shared by the client and the server.
//!
//! A session is one WebSocket connection to `/ws`; each connection has its own environment.
//! The client sends `{"type": "reset", "data": {"seed": …}}`, `{"type": "step", "data":
//! {<action fields>}}`, `{"type": "state"}` or `{"type": "close"}`; the server answers
//! `{"type": "observation", "data": {"observation": {…}, "reward": r | null, "done": b}}`,
//! `{"type": "state", "data": {…}}` or `{"type": "error", "data": {"message": …, "code": …}}`.
//! OpenEnv leaves the observation's `metadata` out of the wire, so turnwise's servers put
//! the `info` fields in the observation itself ([`observation_json`]).

use std::sync::Mutex;

use serde_json::{json, Map, Value};
use turnwise_core::ToolCall;
use turnwise_envs::{ActionFormat, Env, Info, Step, Text};

/// OpenEnv's error codes (`WSErrorCode`).
pub mod code {
    /// The message was not JSON.
    pub const INVALID_JSON: &str = "INVALID_JSON";
    /// Unknown message type.
    pub const UNKNOWN_TYPE: &str = "UNKNOWN_TYPE";
    /// The message did not validate.
    pub const VALIDATION_ERROR: &str = "VALIDATION_ERROR";
    /// The environment failed.
    pub const EXECUTION_ERROR: &str = "EXECUTION_ERROR";
    /// Too many sessions.
    pub const CAPACITY_REACHED: &str = "CAPACITY_REACHED";
}

/// An error message.
pub fn error(message: &str, code: &str) -> Value {
    json!({"type": "error", "data": {"message": message, "code": code}})
}

fn calls_json(calls: &[ToolCall]) -> Value {
    calls
        .iter()
        .map(|c| json!({"name": c.name, "arguments": c.arguments}))
        .collect()
}

/// Reads `[{"name", "arguments"}]`.
pub fn calls_from_json(v: &Value) -> Option<Vec<ToolCall>> {
    v.as_array()?
        .iter()
        .map(|c| {
            Some(ToolCall {
                name: c.get("name")?.as_str()?.to_owned(),
                arguments: c.get("arguments").cloned().unwrap_or_else(|| json!({})),
            })
        })
        .collect()
}

/// The name of an action format on the wire.
pub fn format_name(f: ActionFormat) -> &'static str {
    match f {
        ActionFormat::Line(_) => "line",
        ActionFormat::AnswerTag => "answer",
        ActionFormat::ToolCall => "tool",
        ActionFormat::Free => "free",
    }
}

/// The observation object of a turnwise environment: `text`, the `info` fields,
/// `terminated` / `truncated`, and what a remote trainer needs from the environment
/// (`expert_action`, `action_space`, `budget_left`; on reset also `instructions`,
/// `action_format`, `stop`, `gold_action`, `credit_fields`, `reference_tool_calls`).
pub fn observation_json(
    env: &dyn Env,
    text: &str,
    info: &Info,
    step: Option<&Step>,
    reset: bool,
) -> Value {
    let mut o = Map::new();
    o.insert("text".into(), json!(text));
    o.insert("success".into(), json!(info.success));
    o.insert("action_valid".into(), json!(info.action_valid));
    o.insert("action_effective".into(), json!(info.action_effective));
    o.insert(
        "terminated".into(),
        json!(step.is_some_and(|s| s.terminated)),
    );
    o.insert("truncated".into(), json!(step.is_some_and(|s| s.truncated)));
    o.insert("ground_truth".into(), json!(info.ground_truth));
    o.insert("state_key".into(), json!(info.state_key));
    if let Some(c) = &info.tool_calls {
        o.insert("tool_calls".into(), calls_json(c));
    }
    if let Some(f) = info.answer_f1 {
        o.insert("answer_f1".into(), json!(f));
    }
    if let Some(p) = info.progress {
        o.insert("progress".into(), json!(p));
    }
    if let Some(g) = info.subgoal {
        o.insert("subgoal".into(), json!(g));
    }
    if let Some(a) = &info.answer {
        o.insert("answer".into(), json!(a));
    }
    o.insert("expert_action".into(), json!(env.expert_action()));
    o.insert("action_space".into(), json!(env.action_space()));
    o.insert("budget_left".into(), json!(env.budget_left()));
    if reset {
        o.insert("instructions".into(), json!(env.instructions()));
        o.insert(
            "action_format".into(),
            json!(format_name(env.action_format())),
        );
        o.insert("stop".into(), json!(env.stop()));
        o.insert("gold_action".into(), json!(env.gold_action()));
        o.insert("credit_fields".into(), json!(env.credit_fields()));
        if let Some(c) = env.reference_tool_calls() {
            o.insert("reference_tool_calls".into(), calls_json(&c));
        }
    }
    Value::Object(o)
}

/// An observation message: `observation`, `reward` (`null` on reset) and `done`.
pub fn observation_message(observation: Value, reward: Option<f64>, done: bool) -> Value {
    json!({"type": "observation", "data": {"observation": observation, "reward": reward, "done": done}})
}

/// The optional text field `key` of an observation.
pub fn text_field(o: &Value, key: &str) -> Option<Text> {
    o.get(key)?.as_str().map(|s| Text::Owned(s.to_owned()))
}

/// `info` from the fields of an observation (absent fields keep their defaults).
pub fn info_from(o: &Value) -> Info {
    let flag = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
    Info {
        success: flag("success"),
        action_valid: o
            .get("action_valid")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        action_effective: o
            .get("action_effective")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        ground_truth: text_field(o, "ground_truth"),
        state_key: text_field(o, "state_key"),
        tool_calls: o.get("tool_calls").and_then(calls_from_json),
        answer_f1: o.get("answer_f1").and_then(Value::as_f64),
        progress: o.get("progress").and_then(Value::as_f64),
        subgoal: o
            .get("subgoal")
            .and_then(Value::as_u64)
            .and_then(|g| u32::try_from(g).ok()),
        answer: text_field(o, "answer"),
        error: None,
    }
}

/// Every credit field an environment may declare ([`Env::credit_fields`]), in order.
pub const CREDIT_FIELDS: &[&str] = &[
    "score",
    "subgoal",
    "switch",
    "valid",
    "answer",
    "correct",
    "tool_calls",
    "answer_f1",
    "gt_tool_calls",
];

/// The credit fields named by a JSON array (a server's `credit_fields`), unknown names
/// dropped, as a `'static` list: each distinct list is interned once per process.
pub fn credit_fields_from(v: &Value) -> &'static [&'static str] {
    static SEEN: Mutex<Vec<&'static [&'static str]>> = Mutex::new(Vec::new());
    let names: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fields: Vec<&'static str> = CREDIT_FIELDS
        .iter()
        .copied()
        .filter(|f| names.contains(f))
        .collect();
    if fields.is_empty() {
        return &[];
    }
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&f) = seen.iter().find(|&&f| f == fields.as_slice()) {
        return f;
    }
    let f: &'static [&'static str] = Box::leak(fields.into_boxed_slice());
    seen.push(f);
    f
}
