//! Chat templates rendered with minijinja against references rendered by `transformers`'
//! own Jinja2 environment (tests/fixtures/tokenizer/gen_chat_cases.py → chat_cases.json).

use std::path::PathBuf;

use serde_json::{json, Value};
use turnwise_model::tokenizer::{ChatTemplate, Message, TokenizerConfig, CHATML_TEMPLATE};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tokenizer")
        .join(name)
}

fn template(name: &str, case: &Value) -> ChatTemplate {
    let src = std::fs::read_to_string(fixture(&format!("templates/{name}.jinja"))).unwrap();
    let tok = |k: &str| case[k].as_str().map(String::from);
    ChatTemplate::new(&src, tok("bos_token"), tok("eos_token")).unwrap()
}

#[test]
fn renders_exactly_like_transformers() {
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture("chat_cases.json")).unwrap())
            .unwrap();
    assert_eq!(cases.len(), 13);
    let mut templates = std::collections::BTreeSet::new();
    for case in &cases {
        let name = case["template"].as_str().unwrap();
        templates.insert(name);
        let what = format!("{name} / {}", case["name"]);
        let got = template(name, case).render_json(&case["context"]);
        match (&case["expected"], &case["error"]) {
            (Value::String(want), _) => assert_eq!(got.unwrap(), *want, "{what}"),
            (_, Value::String(err)) => {
                let e = got.unwrap_err().to_string();
                assert!(e.contains(err.as_str()), "{what}: {e}");
            }
            _ => panic!("{what}: case without expected or error"),
        }
    }
    assert_eq!(templates.len(), 6, "{templates:?}");
}

#[test]
fn chatml_constant_is_the_tested_template() {
    let file = std::fs::read_to_string(fixture("templates/chatml.jinja")).unwrap();
    assert_eq!(CHATML_TEMPLATE, file);
}

#[test]
fn message_api_matches_json_context() {
    let tpl = ChatTemplate::new(CHATML_TEMPLATE, None, Some("<|im_end|>".into())).unwrap();
    let msgs = [
        Message::new("system", "sys"),
        Message::new("user", "Ünï 迷路\n"),
    ];
    let via_json = tpl
        .render_json(&json!({"messages": msgs, "add_generation_prompt": true}))
        .unwrap();
    assert_eq!(tpl.render(&msgs, true).unwrap(), via_json);
    assert_ne!(tpl.render(&msgs, false).unwrap(), via_json);
}

#[test]
fn template_errors_name_the_line() {
    let e = ChatTemplate::new(
        "{% for m in messages %}\n{{ m.role }\n{% endfor %}",
        None,
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    let tpl = ChatTemplate::new("a\n{{ messages | tojson(colour=1) }}", None, None).unwrap();
    let e = tpl.render(&[], false).unwrap_err().to_string();
    assert!(e.contains("colour") && e.contains("line 2"), "{e}");
    assert!(tpl
        .render_json(&json!([1]))
        .unwrap_err()
        .to_string()
        .contains("JSON object"));
}

#[test]
fn config_reads_string_list_and_object_forms() {
    let path = PathBuf::from("tokenizer_config.json");
    let cfg = TokenizerConfig::from_value(
        &json!({
            "bos_token": {"content": "<s>", "lstrip": false},
            "eos_token": "</s>",
            "pad_token": null,
            "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]
        }),
        &path,
    )
    .unwrap();
    assert_eq!(cfg.bos_token.as_deref(), Some("<s>"));
    assert_eq!(cfg.eos_token.as_deref(), Some("</s>"));
    assert_eq!(cfg.pad_token, None);
    assert_eq!(cfg.chat_template.as_deref(), Some("D"));
    let e = TokenizerConfig::from_value(&json!({"eos_token": 5}), &path)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("tokenizer_config.json: field `eos_token`"),
        "{e}"
    );
    let e = TokenizerConfig::from_value(&json!({"chat_template": [{"name": "x"}]}), &path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("chat_template[0].template"), "{e}");
}
