//! `--model FILE.gguf` through the command line, and `turnwise model convert`: the folder it
//! writes loads in `transformers` 4.57 and 5.x with the log-probs turnwise computes from the
//! GGUF file, and its tokenizer (tokenizer.json + tokenizer_config.json with the chat template)
//! gives the ids of `transformers`' GGUF tokenizer and the same `apply_chat_template` ids.

mod common;

use common::turnwise_clean as turnwise;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python(venv: &str) -> PathBuf {
    let p = repo().join(venv).join("bin/python");
    assert!(p.exists(), "{} missing: run scripts/setup.sh", p.display());
    p
}

fn script(py: &str, args: &[&str]) -> String {
    let out = Command::new(python(py))
        .arg(repo().join("scripts/make_gguf_fixtures.py"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into()
}

/// The tiny GGUF files (shared with turnwise-model's tests) and their references.
fn tiny() -> (PathBuf, Value) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gguf-fixtures-v2");
    if !dir.join("reference.json").exists() {
        script(".venv-tf5", &[dir.to_str().unwrap()]);
    }
    let r = std::fs::read_to_string(dir.join("reference.json")).unwrap();
    (dir, serde_json::from_str(&r).unwrap())
}

fn ours(model: &Path, ids: &[u64]) -> Vec<f64> {
    let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
    let (ok, out, err) = turnwise(&[
        "model",
        "logprobs",
        "--model",
        model.to_str().unwrap(),
        "--token-ids",
        &ids.join(","),
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    serde_json::from_value(v["logprobs"].clone()).unwrap()
}

fn max_diff(a: &[f64], b: &Value) -> f64 {
    let b: Vec<f64> = serde_json::from_value(b.clone()).unwrap();
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Converts `gguf` and checks the folder in both transformers versions against turnwise on
/// the GGUF file and against the GGUF reference's token and chat ids.
fn convert_and_check(gguf: &Path, reference: &Value, dtype: &str) {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "converted-{}-{dtype}-{}",
        gguf.file_stem().unwrap().to_string_lossy(),
        std::process::id()
    ));
    let (ok, _, err) = turnwise(&[
        "model",
        "convert",
        "--model",
        gguf.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--dtype",
        dtype,
    ]);
    assert!(ok, "{err}");
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let seq: Vec<u64> = serde_json::from_value(reference["sequences"][0].clone()).unwrap();
    // turnwise on the GGUF file vs transformers' GGUF loader, then on the converted folder.
    let from_gguf = ours(gguf, &seq);
    let from_dir = ours(&out, &seq);
    let tol = if dtype == "f32" { 1e-4 } else { 1.0 };
    assert!(max_diff(&from_gguf, &reference["logprobs"][0]) < 1e-4);
    assert!(
        max_diff(&from_dir, &reference["logprobs"][0]) < tol,
        "{dtype}"
    );
    let ids: Vec<String> = seq.iter().map(u64::to_string).collect();
    for py in [".venv", ".venv-tf5"] {
        let v: Value = serde_json::from_str(&script(
            py,
            &["--check", out.to_str().unwrap(), &ids.join(",")],
        ))
        .unwrap();
        let d = max_diff(&from_dir, &v["logprobs"]);
        eprintln!(
            "convert {} ({dtype}) loaded by {py}: max |Δ log-prob| = {d:.2e}",
            gguf.display()
        );
        assert!(d < 1e-4, "{py}: {d}");
        let n = reference["ids"].as_array().unwrap().len();
        assert_eq!(
            v["ids"].as_array().unwrap()[..n],
            reference["ids"].as_array().unwrap()[..],
            "{py} token ids"
        );
        let chats: Vec<Value> = reference["chats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["ids"].clone())
            .collect();
        assert_eq!(v["chats"].as_array().unwrap(), &chats, "{py} chat ids");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn convert_tiny_gguf_files_round_trip_through_transformers() {
    let (dir, refs) = tiny();
    for name in ["llama-types.gguf", "qwen2-tied.gguf", "qwen3.gguf"] {
        convert_and_check(&dir.join(name), &refs[name], "f32");
    }
    convert_and_check(
        &dir.join("llama-types.gguf"),
        &refs["llama-types.gguf"],
        "bf16",
    );
}

#[test]
fn bad_gguf_files_fail_with_file_and_key() {
    let (dir, _) = tiny();
    for (file, key) in [
        ("bad-arch.gguf", "general.architecture"),
        ("bad-type.gguf", "blk.1.attn_v.weight"),
    ] {
        let p = dir.join(file);
        let (ok, _, err) = turnwise(&[
            "model",
            "logprobs",
            "--model",
            p.to_str().unwrap(),
            "--token-ids",
            "1,2",
        ]);
        assert!(!ok && err.contains(file) && err.contains(key), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

/// SmolLM2-135M-Instruct (scripts/setup.d/20-model.sh) and transformers' GGUF reference.
fn smollm2() -> (PathBuf, Value) {
    let gguf = repo().join(".models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        gguf.exists(),
        "{} missing: run scripts/setup.d/20-model.sh",
        gguf.display()
    );
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("smollm2-reference-v2.json");
    if !out.exists() {
        script(
            ".venv-tf5",
            &["--smollm2", gguf.to_str().unwrap(), out.to_str().unwrap()],
        );
    }
    (
        gguf,
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap(),
    )
}

#[test]
fn convert_smollm2_round_trips_through_transformers() {
    let (gguf, r) = smollm2();
    convert_and_check(&gguf, &r, "f32");
}

#[test]
fn smollm2_generates_and_encodes_from_the_gguf_file() {
    let (gguf, _) = smollm2();
    let g = gguf.to_str().unwrap();
    let prompt =
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    let (ok, out, err) = turnwise(&[
        "model",
        "generate",
        "--model",
        g,
        "--prompt",
        prompt,
        "--temperature",
        "0",
        "--max-new-tokens",
        "24",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    eprintln!("SmolLM2 greedy: {}", v["text"]);
    assert!(v["text"].as_str().unwrap().contains("Paris"), "{v}");
    let (ok, out, err) = turnwise(&["tokenizer", "encode", "--model", g, "hello world"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
}

/// `turnwise tokenizer chat` gives the ids of `transformers`' `apply_chat_template` (the
/// tokenizer loaded from the same GGUF file) on SmolLM2 and the tiny files.
#[test]
fn tokenizer_chat_matches_apply_chat_template() {
    let (gguf, r) = smollm2();
    let (dir, refs) = tiny();
    let mut cases = vec![(gguf, r)];
    for name in ["llama-types.gguf", "qwen3.gguf"] {
        cases.push((dir.join(name), refs[name].clone()));
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chat-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut n = 0;
    for (model, reference) in &cases {
        for (i, c) in reference["chats"].as_array().unwrap().iter().enumerate() {
            let file = tmp.join(format!("messages-{i}.json"));
            std::fs::write(&file, c["messages"].to_string()).unwrap();
            let mut args = vec![
                "tokenizer",
                "chat",
                "--model",
                model.to_str().unwrap(),
                "--messages",
                file.to_str().unwrap(),
            ];
            if c["generation_prompt"].as_bool().unwrap() {
                args.push("--generation-prompt");
            }
            let (ok, out, err) = turnwise(&args);
            assert!(ok, "{err}");
            let v: Value = serde_json::from_str(out.trim()).unwrap();
            assert_eq!(v["ids"], c["ids"], "{} chat {i}", model.display());
            assert!(v["text"].as_str().unwrap().contains("<|im_start|>"));
            n += 1;
        }
    }
    assert!(n >= 6, "{n} chats checked");
    // A malformed messages file names the file, the message and the key.
    let bad = tmp.join("bad.json");
    std::fs::write(
        &bad,
        r#"[{"role": "user", "content": "hi"}, {"content": "x"}]"#,
    )
    .unwrap();
    let (ok, _, err) = turnwise(&[
        "tokenizer",
        "chat",
        "--model",
        cases[0].0.to_str().unwrap(),
        "--messages",
        bad.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("bad.json") && err.contains("message 1") && err.contains("`role`"),
        "{err}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}
