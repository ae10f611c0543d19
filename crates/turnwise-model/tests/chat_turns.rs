//! Chat-format episodes grown piece by piece ([`ChatTurns`]) on SmolLM2-135M-Instruct's real
//! tokenizer: the ids of opening + sampled actions + pieces after each action equal the ids of
//! the whole conversation rendered at once (whose ids `tokenizer chat` checks against
//! `transformers`), for ChatML, Llama 3 and Gemma templates, actions ending with a sampled
//! stop token or cut off by the budget; a template that drops earlier `<think>` blocks
//! differs in exactly those blocks; a template without a system role gets the instructions
//! in the first user message.

mod common;

use std::path::{Path, PathBuf};

use common::repo;
use turnwise_model::tokenizer::{ChatTurns, Message, Tokenizer};

fn smollm2() -> Tokenizer {
    let gguf = repo().join(".models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        gguf.exists(),
        "{}: run scripts/setup.d/20-model.sh",
        gguf.display()
    );
    Tokenizer::from_dir(&gguf).unwrap()
}

/// SmolLM2's tokenizer with another chat template.
fn with_template(name: &str, source: &str) -> Tokenizer {
    let dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("chat-turns-{name}-{}", std::process::id()));
    smollm2().save_dir(&dir).unwrap();
    let cfg = dir.join("tokenizer_config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["chat_template"] = source.into();
    std::fs::write(&cfg, v.to_string()).unwrap();
    let tok = Tokenizer::from_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    tok
}

fn fixture_template(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tokenizer/templates")
            .join(format!("{name}.jinja")),
    )
    .unwrap()
}

const SYSTEM: &str = "You are in a maze. Reply with one move.";
const OBS: [&str; 3] = [
    "You are at (1, 2). Walls: north.",
    "You moved east. Walls: none.",
    "  Ünïcödé 迷路: you are at the exit? \n",
];

/// Plays `actions` (text, whether the model sampled the stop token after it) and returns the
/// context ids after the last observation, plus the messages of the same conversation.
fn play(tok: &Tokenizer, actions: &[(&str, bool)]) -> (Vec<u32>, Vec<Message>) {
    let turns: ChatTurns = tok.chat_turns().unwrap();
    let eot = tok.special().stop_ids[0];
    let mut ctx = turns.opening(SYSTEM, OBS[0]).unwrap().ids;
    let mut msgs = vec![Message::new("system", SYSTEM), Message::new("user", OBS[0])];
    for (i, (a, stop)) in actions.iter().enumerate() {
        let mut ids = tok.encode(a).unwrap();
        if *stop {
            ids.push(eot);
        }
        ctx.extend(&ids);
        ctx.extend(turns.after_action(&ids, OBS[i + 1]).unwrap().ids);
        msgs.push(Message::new("assistant", *a));
        msgs.push(Message::new("user", OBS[i + 1]));
    }
    (ctx, msgs)
}

fn whole(tok: &Tokenizer, msgs: &[Message]) -> Vec<u32> {
    tok.encode(&tok.apply_chat_template(msgs, true).unwrap())
        .unwrap()
}

#[test]
fn chatml_pieces_equal_the_whole_conversation() {
    let tok = smollm2();
    assert!(tok.chat_turns().unwrap().system_role());
    for stops in [[true, true], [false, true], [true, false]] {
        let actions = [("move east", stops[0]), ("move north", stops[1])];
        let (ctx, msgs) = play(&tok, &actions);
        assert_eq!(ctx, whole(&tok, &msgs), "stops {stops:?}");
    }
    // The sampled <|im_end|> is the action's own: the piece after it starts with "\n".
    let turns = tok.chat_turns().unwrap();
    let eot = tok.special().stop_ids[0];
    let p = turns.after_action(&[42, eot], "next").unwrap();
    assert!(
        p.text.starts_with("\n<|im_start|>user\nnext<|im_end|>"),
        "{:?}",
        p.text
    );
    let p = turns.after_action(&[42], "next").unwrap();
    assert!(
        p.text.starts_with("<|im_end|>\n<|im_start|>user"),
        "{:?}",
        p.text
    );
}

#[test]
fn llama3_and_gemma_templates() {
    // SmolLM2's vocabulary has no <|eot_id|> / <end_of_turn>: actions are cut off by the
    // budget and the template closes them.
    for name in ["llama3", "gemma", "qwen2_5", "chatml"] {
        let tok = with_template(name, &fixture_template(name));
        let turns = tok.chat_turns().unwrap();
        let (ctx, mut msgs) = play(&tok, &[("move east", false), ("move north", false)]);
        if !turns.system_role() {
            assert_eq!(name, "gemma");
            msgs.remove(0);
            msgs[0].content = format!("{SYSTEM}\n\n{}", OBS[0]);
        }
        // The same text always; the same ids too, except where the generation prompt ends
        // in whitespace that BPE would merge with the action's first word when the whole
        // conversation is encoded at once (Llama 3's "\n\n"): the context holds the ids the
        // model was actually prompted with and sampled.
        let text = tok.apply_chat_template(&msgs, true).unwrap();
        assert_eq!(tok.decode(&ctx).unwrap(), text, "{name}");
        if name != "llama3" {
            assert_eq!(ctx, whole(&tok, &msgs), "{name}");
        } else {
            assert_ne!(ctx, whole(&tok, &msgs), "{name}");
        }
    }
}

/// Like Qwen3's template: assistant messages before the last user message lose their
/// `<think>…</think>` block.
const THINK_DROPPING: &str = "{% set ns = namespace(last=0) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.last = loop.index0 %}{% endif %}{% endfor %}{% for m in messages %}{% set c = m.content %}{% if m.role == 'assistant' and loop.index0 < ns.last and '</think>' in c %}{% set c = c.split('</think>')[-1].lstrip('\\n') %}{% endif %}{{ '<|im_start|>' + m.role + '\\n' + c + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

#[test]
fn think_blocks_stay_in_the_context() {
    let tok = with_template("think", THINK_DROPPING);
    let think = "<think>\nthe exit is east\n</think>\n";
    let (ctx, msgs) = play(&tok, &[(&format!("{think}move east"), true)]);
    let rendered = tok.apply_chat_template(&msgs, true).unwrap();
    assert!(!rendered.contains("<think>"), "the template drops it");
    let ours = tok.decode(&ctx).unwrap();
    assert_eq!(ours.replacen(think, "", 1), rendered);
    assert_ne!(ctx, whole(&tok, &msgs));
}

#[test]
fn a_template_that_fails_is_an_error() {
    let tok = with_template("bad", "{{ raise_exception('no chats here') }}");
    let e = tok.chat_turns().unwrap_err().to_string();
    assert!(e.contains("no chats here"), "{e}");
}
