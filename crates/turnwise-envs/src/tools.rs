//! The Hermes / Qwen tool-call format shared by tool environments and the trainer:
//! `<tool_call>{"name": …, "arguments": {…}}</tool_call>` blocks in the policy's output,
//! `<tool_response>…</tool_response>` blocks in the observation, and the `<tools>` list of
//! function signatures in the instructions (the format of Qwen2.5 / Qwen3 chat templates and
//! of MatchTIR's `parse_output.py`).

use serde_json::{json, Value};
use turnwise_core::ToolCall;

/// Opens a tool call.
pub const CALL_OPEN: &str = "<tool_call>";
/// Closes a tool call (where a policy's action ends in tool environments).
pub const CALL_CLOSE: &str = "</tool_call>";

/// Why a `<tool_call>` block could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError(pub String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every `<tool_call>…</tool_call>` block of `output`, in order, each parsed or with the
/// reason it could not be. An unclosed block is an error; text outside blocks is ignored.
/// Accepts `arguments` as an object or as a JSON-encoded object string (the OpenAI
/// convention), and `parameters` as a synonym.
pub fn parse_calls(output: &str) -> Vec<Result<ToolCall, CallError>> {
    let mut out = Vec::new();
    let mut rest = output;
    while let Some(i) = rest.find(CALL_OPEN) {
        let body = &rest[i + CALL_OPEN.len()..];
        let Some(j) = body.find(CALL_CLOSE) else {
            out.push(Err(CallError(
                "unclosed <tool_call>: end each call with </tool_call>".into(),
            )));
            break;
        };
        out.push(parse_one(body[..j].trim()));
        rest = &body[j + CALL_CLOSE.len()..];
    }
    out
}

fn parse_one(body: &str) -> Result<ToolCall, CallError> {
    let v: Value = serde_json::from_str(body).map_err(|e| {
        CallError(format!(
            "the tool call is not valid JSON ({e}); write {{\"name\": ..., \"arguments\": {{...}}}}"
        ))
    })?;
    let Value::Object(mut m) = v else {
        return Err(CallError(
            "the tool call must be a JSON object with \"name\" and \"arguments\"".into(),
        ));
    };
    let name = match m.remove("name") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(CallError("\"name\" must be a string".into())),
        None => return Err(CallError("the tool call has no \"name\"".into())),
    };
    let args = m
        .remove("arguments")
        .or_else(|| m.remove("parameters"))
        .unwrap_or_else(|| json!({}));
    let arguments = match args {
        Value::Object(_) => args,
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(v @ Value::Object(_)) => v,
            _ => return Err(CallError("\"arguments\" must be a JSON object".into())),
        },
        _ => return Err(CallError("\"arguments\" must be a JSON object".into())),
    };
    Ok(ToolCall { name, arguments })
}

/// At least one `<tool_call>` block, and every block parses.
pub fn well_formed(output: &str) -> bool {
    let calls = parse_calls(output);
    !calls.is_empty() && calls.iter().all(Result::is_ok)
}

/// A tool call as a policy writes it: `<tool_call>\n{"name": "search", "arguments":
/// {"query": "x"}}\n</tool_call>` (Python `json.dumps` spacing, as Qwen's template).
pub fn format_call(name: &str, arguments: &Value) -> String {
    let v = json!({"name": name, "arguments": arguments});
    format!("{CALL_OPEN}\n{}\n{CALL_CLOSE}", to_python_json(&v))
}

/// A tool's result as the next observation shows it.
pub fn format_response(text: &str) -> String {
    format!("<tool_response>\n{text}\n</tool_response>")
}

/// The Hermes tool list of the instructions: function signatures in `<tools></tools>` and
/// the call format.
pub fn tools_block(functions: &[Value]) -> String {
    let mut s = String::from(
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>",
    );
    for f in functions {
        s.push('\n');
        s.push_str(&to_python_json(&json!({"type": "function", "function": f})));
    }
    s.push_str("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
    s
}

/// A function signature for [`tools_block`]: one required string parameter.
pub fn function(name: &str, description: &str, param: &str, param_doc: &str) -> Value {
    json!({
        "name": name,
        "description": description,
        "parameters": {
            "type": "object",
            "properties": {param: {"type": "string", "description": param_doc}},
            "required": [param],
        },
    })
}

/// JSON with Python's default `json.dumps` separators (`", "` and `": "`).
pub fn to_python_json(v: &Value) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    serde::Serialize::serialize(v, &mut ser).expect("serialising a JSON value cannot fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

struct PythonFormatter;

fn comma<W: ?Sized + std::io::Write>(w: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        w.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        comma(w, first)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        comma(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let call = format_call("search", &json!({"query": "Mira Talvane"}));
        assert_eq!(
            call,
            "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"query\": \"Mira Talvane\"}}\n</tool_call>"
        );
        let p = parse_calls(&format!("<think>x</think>{call}"));
        assert_eq!(p.len(), 1);
        let c = p[0].as_ref().unwrap();
        assert_eq!(c.name, "search");
        assert_eq!(c.arguments["query"], "Mira Talvane");
        assert!(well_formed(&call));
        assert!(!well_formed("no call"));
        assert!(!well_formed("<tool_call>{\"name\": 1}</tool_call>"));
        assert!(parse_calls("<tool_call>{oops</tool_call>")[0]
            .as_ref()
            .unwrap_err()
            .0
            .contains("not valid JSON"));
        assert!(parse_calls("<tool_call>{\"name\": \"x\"}")[0]
            .as_ref()
            .unwrap_err()
            .0
            .contains("unclosed"));
        let s = parse_calls(
            "<tool_call>{\"name\": \"open\", \"arguments\": \"{\\\"title\\\": \\\"A\\\"}\"}</tool_call>",
        );
        assert_eq!(s[0].as_ref().unwrap().arguments["title"], "A");
    }
}
