//! `turnwise envs`, `env replay`, `env demos` end to end.

use std::process::{Command, Output};

fn turnwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_turnwise"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = tempfile::tempdir().unwrap().keep();
    d.join(name)
}

#[test]
fn envs_lists_every_environment_with_defaults() {
    let o = turnwise(&["envs"]);
    assert!(o.status.success());
    let s = String::from_utf8(o.stdout).unwrap();
    for name in ["lmrl/maze-fo", "lmrl/wordle", "ragen/sokoban", "try-again"] {
        assert!(s.contains(name), "{name}");
    }
    assert!(s.contains("--option start=random"));
}

/// Runs `turnwise env replay ARGS --actions FILE` and parses its JSON lines.
fn replay(args: &[&str], actions: &std::path::Path) -> Vec<serde_json::Value> {
    let mut all = vec!["env", "replay"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--actions", actions.to_str().unwrap()]);
    let o = turnwise(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn replay_prints_one_json_line_per_step() {
    let actions = tmp("actions.txt");
    std::fs::write(&actions, "move up\nmove right\nfoo\\nbar\n").unwrap();
    let lines = replay(
        &[
            "--env",
            "lmrl/maze-fo",
            "--seed",
            "0",
            "--option",
            "start=5,3",
        ],
        &actions,
    );
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["observation"], "The goal is at position 8, 6. Your current position is at position 5, 3. There are walls to your left, below you.\n");
    assert_eq!(lines[1]["reward"], -1.0);
    assert_eq!(lines[1]["info"]["state_key"], "4,3");
    assert_eq!(lines[3]["output"], "foo\nbar");
    assert_eq!(lines[3]["action"], "foo", "the text before the stop string");
    assert_eq!(lines[3]["reward"], -4.0);
    assert_eq!(lines[3]["info"]["action_valid"], false);
}

fn play(args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut c = Command::new(env!("CARGO_BIN_EXE_turnwise"))
        .arg("play")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn play_takes_policy_outputs_and_shows_the_trainers_prompt() {
    use turnwise_envs::render::{Style, TurnCtx};
    let mut env = turnwise_envs::registry::make("ragen/sokoban", &[]).unwrap();
    let obs = env.reset(0);
    let ctx = TurnCtx {
        turn: 1,
        max_tokens: 100,
    };
    let prompt = Style::Faithful.observation(&*env, ctx, &obs.text, None);
    let out = play(
        &["--env", "ragen/sokoban"],
        "<think>go</think><answer>Right || Right</answer>\n<answer>Up</answer>\n",
    );
    assert!(out.contains(&prompt), "{out}");
    assert!(out.contains("[action \"Right || Right\"]"), "{out}");
    assert!(out.contains("Turn 2:"));
    // RAGEN's regex needs <think>…</think> before the answer (as the trainer parses).
    assert!(out.contains("[format error"), "{out}");
    let chat = play(
        &["--env", "ragen/sokoban", "--style", "chat"],
        "<answer>Right || Right</answer>\n",
    );
    assert!(chat.contains("[action \"Right || Right\"]"), "{chat}");
    let maze = play(
        &["--env", "lmrl/maze-fo", "--option", "start=5,3"],
        "move up\n",
    );
    assert!(maze.contains("[action \"move up\"]"), "{maze}");
    assert!(maze.contains("[reward -1 "), "{maze}");
}

#[test]
fn replay_parses_tool_calls() {
    let actions = tmp("calls.txt");
    let mut env =
        turnwise_envs::registry::make("tools/kbqa", &[("hops".into(), "1".into())]).unwrap();
    env.reset(4);
    let mut lines = String::new();
    while let Some(a) = env.expert_action() {
        lines.push_str(&a.replace('\n', "\\n"));
        lines.push('\n');
        env.step(&a);
    }
    std::fs::write(&actions, lines).unwrap();
    let lines = replay(
        &["--env", "tools/kbqa", "--seed", "4", "--option", "hops=1"],
        &actions,
    );
    assert_eq!(lines.len(), 4);
    assert!(lines[0]["prompt"].as_str().unwrap().contains("<tools>"));
    assert_eq!(lines[1]["info"]["tool_calls"][0]["name"], "search");
    assert_eq!(lines[3]["reward"], 1.0);
    assert_eq!(lines[3]["info"]["answer_f1"], 1.0);
    assert_eq!(lines[3]["terminated"], true);
}

#[test]
fn bad_option_and_env_are_clear_errors() {
    let o = turnwise(&["play", "--env", "lmrl/maze-fo", "--option", "strat=1,1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `start`"));
    let o = turnwise(&[
        "env",
        "bench",
        "--env",
        "ragen/sokobam",
        "--seconds",
        "0.01",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("ragen/sokoban"));
}

#[test]
fn demos_write_trajectory_groups() {
    let out = tmp("demos.jsonl");
    let o = turnwise(&[
        "env",
        "demos",
        "--env",
        "lmrl/maze-fo",
        "--episodes",
        "30",
        "--noise",
        "0.1",
        "--group-size",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let batch = turnwise_core::jsonl::read_batch(&out).unwrap();
    assert_eq!(batch.groups.len(), 30);
    assert_eq!(batch.num_trajectories(), 60);
    for g in &batch.groups {
        assert!(g
            .trajectories
            .iter()
            .all(|t| t.outcome == Some(t.total_reward())));
    }
    let summary: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert!(summary["lmrl_normalised_score"].as_f64().unwrap() > 90.0);
}
