//! `turnwise model ...` end to end on a random `transformers` checkpoint built by
//! scripts/make_parity_fixtures.py (venv python; nothing downloaded).

mod common;

use common::turnwise_clean as turnwise;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("parity-fixtures-v1");
    if !dir.join("llama/reference.json").exists() {
        let py = repo().join(".venv/bin/python");
        assert!(py.exists(), "run scripts/setup-torch.sh");
        let ok = Command::new(py)
            .arg(repo().join("scripts/make_parity_fixtures.py"))
            .arg(&dir)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    dir
}

#[test]
fn logprobs_matches_transformers_reference() {
    let dir = fixtures().join("llama");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let seq: Vec<String> = r["sequences"][1]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    let (ok, out, err) = turnwise(&[
        "model",
        "logprobs",
        "--model",
        dir.to_str().unwrap(),
        "--token-ids",
        &seq.join(","),
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let ours = v["logprobs"].as_array().unwrap();
    let refs = r["logprobs"][1].as_array().unwrap();
    assert_eq!(ours.len(), seq.len() - 1);
    for (a, b) in ours.iter().zip(refs) {
        assert!((a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-4);
    }
}

#[test]
fn generate_prints_one_json_line_per_sample_and_is_seeded() {
    let dir = fixtures().join("qwen2");
    let args = [
        "model",
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--prompt",
        "w1 w2 w3",
        "--num-samples",
        "3",
        "--max-new-tokens",
        "4",
        "--top-p",
        "0.9",
        "--seed",
        "5",
    ];
    let (ok, out, err) = turnwise(&args);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for l in &lines {
        assert_eq!(l["prompt_tokens"], serde_json::json!([1, 2, 3]));
        let n = l["tokens"].as_array().unwrap().len();
        assert!((1..=4).contains(&n));
        assert_eq!(l["logprobs_trunc"].as_array().unwrap().len(), n);
    }
    assert_eq!(turnwise(&args).1, out, "same seed, same output");
}

#[test]
fn init_writes_a_loadable_model_and_errors_name_the_option() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("init-{}", std::process::id()));
    let (ok, _, err) = turnwise(&[
        "model",
        "init",
        "--preset",
        "tiny-qwen2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, o, err) = turnwise(&[
        "model",
        "logprobs",
        "--model",
        out.to_str().unwrap(),
        "--token-ids",
        "1,2,3",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(o.trim()).unwrap();
    // A fresh model with N(0, 0.02²) weights is close to uniform over 512 tokens.
    for lp in v["logprobs"].as_array().unwrap() {
        assert!((lp.as_f64().unwrap() + (512f64).ln()).abs() < 0.5);
    }
    let (ok, _, err) = turnwise(&["model", "init", "--preset", "huge", "--out", "/tmp/x"]);
    assert!(
        !ok && err.contains("preset") && err.contains("tiny"),
        "{err}"
    );
    let (ok, _, err) = turnwise(&[
        "model",
        "logprobs",
        "--model",
        out.to_str().unwrap(),
        "--token-ids",
        "1,999",
    ]);
    assert!(
        !ok && err.contains("token-ids") && err.contains("999"),
        "{err}"
    );
    let (ok, _, err) = turnwise(&[
        "model",
        "logprobs",
        "--model",
        out.to_str().unwrap(),
        "--token-ids",
        "1,2",
        "--dtype",
        "f8",
    ]);
    assert!(!ok && err.contains("dtype"), "{err}");
}

#[test]
fn bench_model_refuses_a_bad_device_or_dtype_by_name_before_loading() {
    // The model path does not exist: the option errors must come first.
    for (flag, value) in [("--device", "tpu"), ("--dtype", "f8")] {
        let (ok, _, err) = turnwise(&[
            "bench",
            "model",
            "--model",
            "/nonexistent/model.gguf",
            flag,
            value,
        ]);
        let key = flag.trim_start_matches("--");
        assert!(
            !ok && err.contains(&format!("option `{key}`")) && err.contains(value),
            "{flag} {value}: {err}"
        );
    }
}
