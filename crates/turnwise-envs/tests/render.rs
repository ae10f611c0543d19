//! Renderers: faithful LMRL lines, faithful RAGEN turns, chat `<think>/<answer>`.

use turnwise_envs::history::{History, HistoryMode, TurnText};
use turnwise_envs::registry;
use turnwise_envs::render::{Style, TurnCtx};

#[test]
fn faithful_lmrl_is_raw_lines() {
    let mut env = registry::make("lmrl/maze-fo", &[("start".into(), "5,3".into())]).unwrap();
    let o = env.reset(0);
    let ctx = TurnCtx {
        turn: 1,
        max_tokens: 100,
    };
    assert_eq!(
        Style::Faithful.observation(env.as_ref(), ctx, &o.text, None),
        o.text
    );
    assert_eq!(Style::Faithful.system(env.as_ref()), None);
    assert_eq!(
        Style::Faithful.format_action(env.as_ref(), "move up"),
        "move up\n"
    );
    let p = Style::Faithful.parse(env.as_ref(), "move up\nmove down\n");
    assert_eq!((p.action, p.format_ok), ("move up", true));
    assert!(!Style::Faithful.parse(env.as_ref(), "move up").format_ok);
}

#[test]
fn faithful_ragen_matches_ctx_manager_text() {
    let mut env = registry::make("ragen/sokoban", &[]).unwrap();
    let o = env.reset(3);
    let ctx = TurnCtx {
        turn: 1,
        max_tokens: 100,
    };
    let text = Style::Faithful.observation(env.as_ref(), ctx, &o.text, None);
    assert!(text.starts_with("You are solving the Sokoban puzzle."));
    assert!(text.contains("\nThe meaning of each symbol in the state is:\n#: wall, _: empty, O: target, √: box on target, X: box, P: player, S: player on target\nYour available actions are:\nUp, Down, Left, Right\nYou can make up to 10 actions, separated by the action separator \" || \"\n"));
    assert!(text.ends_with(&format!("\nTurn 1:\nState:\n{}\nYou have 10 actions left. Always output: <think> [Your thoughts] </think> <answer> [your answer] </answer> with no extra text. Strictly follow this format. Max response length: 100 words (tokens).\n", o.text)));
    let p = Style::Faithful.parse(
        env.as_ref(),
        "<think>go</think>\n <answer>Up || Left</answer>",
    );
    assert_eq!((p.action, p.format_ok), ("Up || Left", true));
    assert!(
        !Style::Faithful
            .parse(env.as_ref(), "<answer>Up</answer>")
            .format_ok
    );
    let second =
        Style::Faithful.observation(env.as_ref(), TurnCtx { turn: 2, ..ctx }, "S", Some(-0.1));
    assert!(second.starts_with("Reward:\n-0.1\n\nTurn 2:\nState:\nS\n"));
}

#[test]
fn chat_style_parses_answers_for_any_env() {
    let env = registry::make("lmrl/maze-fo", &[]).unwrap();
    let p = Style::Chat.parse(
        env.as_ref(),
        "<think>down is closer</think><answer> move down </answer>",
    );
    assert_eq!((p.action, p.format_ok), ("move down", true));
    let p = Style::Chat.parse(env.as_ref(), "move down");
    assert_eq!((p.action, p.format_ok), ("", false));
    assert!(Style::Chat
        .system(env.as_ref())
        .unwrap()
        .contains("<answer>"));
}

#[test]
fn last_k_history_rebuilds_lmrl_po_context() {
    let turns: Vec<TurnText> = (0..30)
        .map(|i| TurnText {
            observation: format!("o{i}\n"),
            action: "move up\n".into(),
        })
        .collect();
    let p = History::render(HistoryMode::LastK(20), "", &turns, "now\n");
    assert!(p.starts_with("o10\n") && p.ends_with("move up\nnow\n"));
    assert_eq!(p.matches("move up").count(), 20);
}
