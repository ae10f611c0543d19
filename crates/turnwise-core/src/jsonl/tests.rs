use super::*;

const CASE: &str = r#"{"method": "grpo", "name": "x", "params": {}, "groups": [{"prompt_id": "p0", "trajectories": [{"id": "t0", "turns": [{"reward": 0.0, "score": null, "tokens": 3, "gold_logprob": [-1.0, null]}], "outcome": 1.0, "truncated": false, "gold_logprob_initial": -2.0}]}], "expected": {"t0": [0.5]}}"#;

#[test]
fn reads_reference_case() {
    let r = parse_record(CASE, Path::new("v.jsonl"), 1).unwrap();
    let Record::Case(c) = r else {
        panic!("not a case")
    };
    assert_eq!(c.method, "grpo");
    let t = &c.batch.groups[0].trajectories[0];
    assert_eq!(t.group_id, "p0");
    assert_eq!(t.turns[0].tokens, 3);
    let g = t.turns[0].ext().gold_logprob.as_ref().unwrap();
    assert_eq!(g[0], -1.0);
    assert!(g[1].is_nan());
    assert_eq!(t.ext().gold_logprob_initial.as_deref(), Some(&[-2.0][..]));
}

#[test]
fn group_line_round_trips() {
    let Record::Case(c) = parse_record(CASE, Path::new("v"), 1).unwrap() else {
        unreachable!()
    };
    let mut g = c.batch.groups[0].clone();
    g.trajectories[0].turns[0].action = crate::trajectory::Text {
        text: "go".into(),
        token_ids: vec![1, 2, 3],
    };
    g.trajectories[0].turns[0].action_logprobs = vec![-0.1, -0.2, -0.3];
    let line = group_to_line(&g);
    let Record::Group(back) = parse_record(&line, Path::new("b"), 1).unwrap() else {
        panic!()
    };
    // NaN != NaN, so compare the serialised forms.
    assert_eq!(group_to_line(&back), line);
}

#[test]
fn errors_name_file_line_and_field() {
    let bad = CASE.replace(r#""reward": 0.0"#, r#""reward": "x""#);
    let e = parse_record(&bad, Path::new("v.jsonl"), 7).unwrap_err();
    assert_eq!(e.file, Path::new("v.jsonl"));
    assert_eq!(e.line, 7);
    assert_eq!(e.path, "groups[0].trajectories[0].turns[0].reward");
    assert!(e
        .to_string()
        .starts_with("v.jsonl:7: groups[0].trajectories[0].turns[0].reward: "));

    let unknown = CASE.replace(r#""tokens": 3"#, r#""tokenz": 3"#);
    let e = parse_record(&unknown, Path::new("v"), 1).unwrap_err();
    assert!(e.message.contains("tokenz"), "{e}");

    let e = parse_record(
        r#"{"prompt_id": "p", "trajectories": []}"#,
        Path::new("b"),
        2,
    )
    .unwrap_err();
    assert_eq!(e.path, "v");
    let e = parse_record(
        r#"{"v": 9, "prompt_id": "p", "trajectories": []}"#,
        Path::new("b"),
        2,
    )
    .unwrap_err();
    assert!(e.message.contains("unsupported"));
    let e = parse_record("[1,2", Path::new("b"), 3).unwrap_err();
    assert!(e.message.contains("invalid JSON"));
}

#[test]
fn token_count_must_match_tokens() {
    let line = r#"{"v": 1, "prompt_id": "p", "trajectories": [{"id": "a", "turns": [{"action": {"text": "x", "token_ids": [1, 2]}, "tokens": 3}]}]}"#;
    let e = parse_record(line, Path::new("b"), 1).unwrap_err();
    assert_eq!(e.path, "trajectories[0].turns[0].tokens");
}

#[test]
fn reader_streams_and_skips_blank_lines() {
    let text = format!("\n{CASE}\n\n{CASE}\n");
    let recs: Vec<_> = RecordReader::new(text.as_bytes(), "mem")
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].0, 2);
    assert_eq!(recs[1].0, 4);
}

#[test]
fn atomic_write_replaces_whole_file() {
    let dir = std::env::temp_dir().join(format!("turnwise-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("out.jsonl");
    write_atomic(&p, b"one\n").unwrap();
    let mut w = AtomicWriter::create(&p).unwrap();
    w.write_line("two").unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\n");
    w.commit().unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "two\n");
    assert!(!tmp_path(&p).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
