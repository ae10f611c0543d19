//! `turnwise tokenizer train` / `encode` end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../turnwise-model/tests/fixtures/tokenizer/maze_corpus.txt")
}

fn turnwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_turnwise"))
        .args(args)
        .output()
        .unwrap()
}

fn train(out: &Path, extra: &[&str]) -> Output {
    let c = corpus();
    let mut args = vec![
        "tokenizer",
        "train",
        "--corpus",
        c.to_str().unwrap(),
        "--vocab",
        "300",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    turnwise(&args)
}

#[test]
fn train_twice_gives_identical_files_and_encode_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&a, &b] {
        let o = train(d, &["--special", "<obs>"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let msg = String::from_utf8_lossy(&o.stdout);
        assert!(
            msg.contains("vocab 300 (4 special)") && msg.contains("round trip exact"),
            "{msg}"
        );
    }
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("tokenizer_config.json")).unwrap()).unwrap();
    assert_eq!(cfg["eos_token"], "<|im_end|>");
    assert_eq!(cfg["pad_token"], "<|endoftext|>");
    assert!(cfg["chat_template"]
        .as_str()
        .unwrap()
        .contains("<|im_start|>"));
    let o = turnwise(&[
        "tokenizer",
        "encode",
        "--dir",
        a.to_str().unwrap(),
        "<obs> move up",
    ]);
    assert!(o.status.success());
    let lines: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines[0], "3\t<obs>\t\"<obs>\"");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("\"move\"") || l.ends_with("\" move\"")),
        "{lines:?}"
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    let c = corpus();
    let o = turnwise(&[
        "tokenizer",
        "train",
        "--corpus",
        c.to_str().unwrap(),
        "--vocab",
        "100",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("vocab size 100 is below"));
    assert!(!out.exists(), "nothing is written on error");
    let o = train(&out, &["--pre-tokenizer", "gpt9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("qwen2, byte-level"));
    let o = turnwise(&[
        "tokenizer",
        "train",
        "--corpus",
        "/nonexistent/c.txt",
        "--vocab",
        "300",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/c.txt"));
}
