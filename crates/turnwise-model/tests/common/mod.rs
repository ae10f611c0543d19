//! Test set-up: the parity fixtures (random `transformers` checkpoints and reference
//! log-probs), built once per target directory by scripts/make_parity_fixtures.py with the
//! venv python of scripts/setup-torch.sh. Nothing is downloaded.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv python.
pub fn python() -> PathBuf {
    let p = repo().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} missing: run scripts/setup-torch.sh",
        p.display()
    );
    p
}

/// The fixture folder (`llama/`, `qwen2/`, `llama-sharded/`).
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("parity-fixtures-v1");
        if !dir.join("llama/reference.json").exists() {
            let out = Command::new(python())
                .arg(repo().join("scripts/make_parity_fixtures.py"))
                .arg(&dir)
                .output()
                .expect("run make_parity_fixtures.py");
            assert!(
                out.status.success(),
                "make_parity_fixtures.py failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        dir
    })
}

/// Reference sequences and log-probs of a fixture model.
pub fn reference(model: &str) -> (Vec<Vec<u32>>, Vec<Vec<f32>>) {
    let text = std::fs::read_to_string(fixtures().join(model).join("reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let seqs = serde_json::from_value(v["sequences"].clone()).unwrap();
    let lps = serde_json::from_value(v["logprobs"].clone()).unwrap();
    (seqs, lps)
}

/// Log-probs of `ids` computed by `transformers` from the checkpoint in `dir`.
pub fn hf_logprobs(dir: &Path, ids: &[u32]) -> Vec<f32> {
    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
    let out = Command::new(python())
        .arg(repo().join("scripts/make_parity_fixtures.py"))
        .arg("--score")
        .arg(dir)
        .arg(ids.join(","))
        .output()
        .expect("run make_parity_fixtures.py --score");
    assert!(
        out.status.success(),
        "transformers could not load {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    serde_json::from_value(v["logprobs"].clone()).unwrap()
}

/// Largest absolute difference.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
