//! Test set-up: the parity fixtures (random `transformers` checkpoints and reference
//! log-probs), built once per target directory by scripts/make_parity_fixtures.py, once with
//! transformers 4.57 (the venv of scripts/setup-torch.sh, `.venv`) and once with transformers
//! 5.x (scripts/setup.d/20-model.sh, `.venv-tf5`). Nothing is downloaded.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `transformers` major version the fixtures are written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tf {
    /// transformers 4.57 (`.venv`).
    V4,
    /// transformers 5.x (`.venv-tf5`).
    V5,
}

/// The venv python with transformers 4.57.
pub fn python() -> PathBuf {
    python_for(Tf::V4)
}

/// The venv python of a transformers version.
pub fn python_for(tf: Tf) -> PathBuf {
    let (venv, script) = match tf {
        Tf::V4 => (".venv", "scripts/setup-torch.sh"),
        Tf::V5 => (".venv-tf5", "scripts/setup.d/20-model.sh"),
    };
    let p = repo().join(venv).join("bin/python");
    assert!(p.exists(), "{} missing: run {script}", p.display());
    p
}

/// Every fixture layout (folder names written by scripts/make_parity_fixtures.py).
pub const LAYOUTS: &[&str] = &[
    "llama",
    "qwen2",
    "llama-sharded",
    "qwen3",
    "qwen3-tied",
    "llama-bf16",
    "qwen2-f16",
    "rope-llama3",
    "rope-linear",
    "rope-dynamic",
    "rope-yarn",
];

/// The transformers-4.57 fixture folder (one sub-folder per layout).
pub fn fixtures() -> &'static Path {
    fixtures_for(Tf::V4)
}

/// The fixture folder written by a transformers version.
pub fn fixtures_for(tf: Tf) -> &'static Path {
    static DIRS: [OnceLock<PathBuf>; 2] = [OnceLock::new(), OnceLock::new()];
    DIRS[tf as usize].get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("parity-fixtures-v3-{tf:?}"));
        if !dir.join("llama/reference.json").exists() {
            let out = Command::new(python_for(tf))
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

/// Reference sequences and log-probs of a transformers-4.57 fixture model.
pub fn reference(model: &str) -> (Vec<Vec<u32>>, Vec<Vec<f32>>) {
    reference_for(Tf::V4, model)
}

/// Reference sequences and log-probs of a fixture model written by `tf`.
pub fn reference_for(tf: Tf, model: &str) -> (Vec<Vec<u32>>, Vec<Vec<f32>>) {
    let text =
        std::fs::read_to_string(fixtures_for(tf).join(model).join("reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let seqs = serde_json::from_value(v["sequences"].clone()).unwrap();
    let lps = serde_json::from_value(v["logprobs"].clone()).unwrap();
    (seqs, lps)
}

/// Log-probs of `ids` computed by `transformers` 4.57 from the checkpoint in `dir`.
pub fn hf_logprobs(dir: &Path, ids: &[u32]) -> Vec<f32> {
    hf_logprobs_with(Tf::V4, dir, ids)
}

/// Log-probs of `ids` computed by transformers version `tf` from the checkpoint in `dir`.
pub fn hf_logprobs_with(tf: Tf, dir: &Path, ids: &[u32]) -> Vec<f32> {
    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
    let out = Command::new(python_for(tf))
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
