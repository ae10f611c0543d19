//! MatchTIR's tool-call similarity (`credit-turn.md` §5; CODE `quchangle1/MatchTIR`
//! `Code/verl/utils/reward_score/tool.py`: `match_score`, the score of `compute_process_KM`).

use serde_json::{Map, Value};
use turnwise_core::ToolCall;

/// Python `==` on decoded JSON: numbers compare by value (`1 == 1.0`; `true == 1`),
/// objects by key set and values, arrays elementwise; `"1" != 1`.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    fn num(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Null, Value::Null) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// `match_score(A, B)`: 1 if the key lists are equal in order, 0 if either is empty,
/// else the multiset Jaccard `|A ∩ B| / (|A| + |B| − |A ∩ B|)` (JSON keys are unique, so
/// the multiset intersection is the set intersection).
pub fn match_score(gt: &Map<String, Value>, pred: &Map<String, Value>) -> f64 {
    if gt.keys().eq(pred.keys()) {
        return 1.0;
    }
    if gt.is_empty() || pred.is_empty() {
        return 0.0;
    }
    let inter = gt.keys().filter(|k| pred.contains_key(*k)).count();
    let denom = gt.len() + pred.len() - inter;
    if denom > 0 {
        inter as f64 / denom as f64
    } else {
        0.0
    }
}

/// The arguments of a call as a JSON object (`null` reads as `{}`); `None` if they are
/// something else (a string that was never decoded, a number, …).
pub fn arguments(call: &ToolCall) -> Option<&Map<String, Value>> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    match &call.arguments {
        Value::Object(m) => Some(m),
        Value::Null => Some(EMPTY.get_or_init(Map::new)),
        _ => None,
    }
}

/// `sim(p, g)` (§5): 0 if the names differ (case-insensitive), else
/// `(1 + match_score(keys(g), keys(p)) + #{k ∈ g : p[k] == g[k]}) / (2 + |g|)`.
pub fn tool_similarity(pred: &ToolCall, gt: &ToolCall) -> f64 {
    let same_name = pred
        .name
        .chars()
        .flat_map(char::to_lowercase)
        .eq(gt.name.chars().flat_map(char::to_lowercase));
    if !same_name {
        return 0.0;
    }
    let (Some(p), Some(g)) = (arguments(pred), arguments(gt)) else {
        return 1.0 / 2.0;
    };
    let equal = g
        .iter()
        .filter(|(k, v)| p.get(*k).is_some_and(|w| py_eq(w, v)))
        .count();
    (1.0 + match_score(g, p) + equal as f64) / (2.0 + g.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(name: &str, args: Value) -> ToolCall {
        ToolCall {
            name: name.into(),
            arguments: args,
        }
    }

    #[test]
    fn python_equality_of_json() {
        assert!(py_eq(&json!(1), &json!(1.0)));
        assert!(py_eq(&json!(true), &json!(1)));
        assert!(!py_eq(&json!("1"), &json!(1)));
        assert!(py_eq(&json!({"a": [1, 2]}), &json!({"a": [1.0, 2]})));
    }

    #[test]
    fn similarity_follows_the_code() {
        let g = call("search", json!({"q": "paris", "k": 3}));
        assert_eq!(
            tool_similarity(&call("Search", json!({"q": "paris", "k": 3})), &g),
            1.0
        );
        // name matches, keys {q} vs {q, k}: jaccard 1/2, one equal value: (1 + 0.5 + 1)/4
        assert_eq!(
            tool_similarity(&call("search", json!({"q": "paris"})), &g),
            0.625
        );
        assert_eq!(
            tool_similarity(&call("lookup", json!({"q": "paris"})), &g),
            0.0
        );
    }
}
