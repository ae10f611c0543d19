//! `turnwise advantages` and `turnwise methods` end to end.

use std::process::{Command, Output};

fn turnwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_turnwise"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(name: &str) -> String {
    format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_reference_vector_checks() {
    for (file, n) in [("vectors_outcome.jsonl", 72), ("vectors_turn.jsonl", 27)] {
        let o = turnwise(&["advantages", "--input", &fixture(file), "--check"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{file}: {err}");
        assert!(err.contains(&format!("all {n} cases match")), "{err}");
        assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), n);
    }
}

#[test]
fn check_reports_a_mismatch_with_exit_1() {
    let text = std::fs::read_to_string(fixture("vectors_outcome.jsonl")).unwrap();
    let first = text
        .lines()
        .next()
        .unwrap()
        .replace("0.8660239037870368", "0.9");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("case.jsonl");
    std::fs::write(&p, first).unwrap();
    let o = turnwise(&["advantages", "--input", p.to_str().unwrap(), "--check"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("expected.t0[0]: got 0.866"), "{err}");
}

#[test]
fn group_lines_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("b.jsonl");
    std::fs::write(
        &good,
        concat!(
            r#"{"v":1,"prompt_id":"p","trajectories":[{"id":"a","outcome":1,"turns":[{"reward":0}]},{"id":"b","outcome":0,"turns":[{"reward":0},{"reward":0}]}]}"#,
            "\n"
        ),
    )
    .unwrap();
    let o = turnwise(&[
        "advantages",
        "--input",
        good.to_str().unwrap(),
        "--method",
        "dr_grpo",
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["a"], serde_json::json!([0.5]));
    assert_eq!(v["b"], serde_json::json!([-0.5, -0.5]));

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "\n{\"v\":1,\"prompt_id\":\"p\",\"trajectories\":[{\"id\":\"a\",\"turns\":[{\"reward\":\"x\"}]}]}\n").unwrap();
    let o = turnwise(&[
        "advantages",
        "--input",
        bad.to_str().unwrap(),
        "--method",
        "grpo",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.jsonl:2: trajectories[0].turns[0].reward: invalid type"),
        "{err}"
    );

    let o = turnwise(&[
        "advantages",
        "--input",
        good.to_str().unwrap(),
        "--method",
        "grpoo",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean \"grpo\""));

    // A method that needs a field the batch lacks names it.
    let o = turnwise(&[
        "advantages",
        "--input",
        good.to_str().unwrap(),
        "--method",
        "gigpo",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("anchor"));
}

#[test]
fn methods_lists_every_method_with_status() {
    let o = turnwise(&["methods", "--format", "json"]);
    assert!(o.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 25);
    for m in &lines {
        assert!(
            ["exact", "assumption"].contains(&m["status"].as_str().unwrap()),
            "{m}"
        );
    }
}

#[test]
fn duplicate_trajectory_ids_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dup.jsonl");
    let refused = |text: String, wants: [&str; 2]| {
        std::fs::write(&p, text).unwrap();
        let input = p.to_str().unwrap();
        let o = turnwise(&["advantages", "--input", input, "--method", "grpo"]);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(wants.iter().all(|w| err.contains(w)), "{err}");
        assert!(o.stdout.is_empty());
    };
    let same_group = r#"{"v":1,"prompt_id":"p","trajectories":[{"id":"a","outcome":1,"turns":[{"reward":0}]},{"id":"a","outcome":0,"turns":[{"reward":0}]}]}"#;
    refused(
        format!("{same_group}\n"),
        ["dup.jsonl:1", "\"a\" appears twice"],
    );
    // Across group lines too: the output is keyed by id.
    let g = |pid: &str| {
        format!(
            r#"{{"v":1,"prompt_id":"{pid}","trajectories":[{{"id":"x","outcome":1,"turns":[{{"reward":0}}]}},{{"id":"{pid}-y","outcome":0,"turns":[{{"reward":0}}]}}]}}"#
        )
    };
    refused(
        format!("{}\n{}\n", g("p"), g("q")),
        ["dup.jsonl:2", "first on line 1"],
    );
}
