//! JSON text exactly as Python's `json.dumps(x, ensure_ascii=False, indent=…)` writes it: the
//! `tojson` filter of Hugging Face chat templates (`transformers.utils.chat_template_utils`)
//! is defined that way, and tool schemas rendered into prompts must match it byte for byte.
//!
//! Separators are `", "` and `": "` without indent, `","` and `": "` with one (Python ≥ 3.4).
//! Integers print as integers; floats use Rust's shortest round-trip form, which equals
//! Python's `repr` except for exponent spelling of very large/small values (`1e16` vs `1e+16`).

use serde_json::Value;

/// Serialises `v` like `json.dumps(v, ensure_ascii=False, indent=indent)`.
pub fn dumps(v: &Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    write(&mut out, v, indent, 0);
    out
}

fn newline(out: &mut String, indent: Option<usize>, depth: usize) {
    if let Some(n) = indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', n * depth));
    }
}

fn write(out: &mut String, v: &Value, indent: Option<usize>, depth: usize) {
    let sep = if indent.is_some() { "," } else { ", " };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                newline(out, indent, depth + 1);
                write(out, x, indent, depth + 1);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                newline(out, indent, depth + 1);
                write_str(out, k);
                out.push_str(": ");
                write(out, x, indent, depth + 1);
            }
            newline(out, indent, depth);
            out.push('}');
        }
    }
}

/// Python's `py_encode_basestring`: escapes `"`, `\` and control characters only.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_separators_and_escapes() {
        // Each expectation is what CPython 3.11 prints for the same object.
        let v = json!({"name": "get_weather", "args": {"city": "Zürich \"x\"\n", "n": [1, 2.5, true, null]}, "e": {}});
        assert_eq!(
            dumps(&v, None),
            r#"{"name": "get_weather", "args": {"city": "Zürich \"x\"\n", "n": [1, 2.5, true, null]}, "e": {}}"#
        );
        assert_eq!(
            dumps(&json!({"a": [1, {"b": "\u{01}"}]}), Some(2)),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"\\u0001\"\n    }\n  ]\n}"
        );
    }
}
