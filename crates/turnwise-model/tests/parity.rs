//! Log-prob parity with `transformers` (LlamaForCausalLM, Qwen2ForCausalLM with tied
//! embeddings and q/k/v biases, a sharded checkpoint) to 1e-4, and the reverse direction: a
//! turnwise-saved checkpoint loads in `transformers` with matching log-probs.

mod common;

use common::*;
use tch::Device;
use turnwise_model::{DType, Policy};

fn check(model: &str) {
    let dir = fixtures().join(model);
    let policy = Policy::load(&dir, Device::Cpu, DType::F32).unwrap();
    let (seqs, refs) = reference(model);
    for (s, r) in seqs.iter().zip(&refs) {
        let lp = policy.sequence_logprobs(s).unwrap();
        let d = max_diff(&lp, r);
        assert!(d < 1e-4, "{model}: max |Δ logprob| = {d}");
    }
}

#[test]
fn llama_matches_transformers() {
    check("llama");
}

#[test]
fn qwen2_matches_transformers() {
    check("qwen2");
}

#[test]
fn sharded_checkpoint_matches_transformers() {
    check("llama-sharded");
}

#[test]
fn batched_right_padded_scoring_matches_single_sequences() {
    let dir = fixtures().join("qwen2");
    let policy = Policy::load(&dir, Device::Cpu, DType::F32).unwrap();
    let (seqs, refs) = reference("qwen2");
    let batch = turnwise_model::SeqBatch::right_padded(&seqs, 0, Device::Cpu).unwrap();
    let stats = tch::no_grad(|| {
        policy
            .token_logprobs(&batch.ids, &batch.positions, None, 1.0, true)
            .unwrap()
    });
    for (b, (s, r)) in seqs.iter().zip(&refs).enumerate() {
        let row = stats
            .logprobs
            .get(b as i64)
            .narrow(0, 1, s.len() as i64 - 1);
        let row: Vec<f32> = Vec::try_from(&row).unwrap();
        assert!(max_diff(&row, r) < 1e-4);
    }
    let ent = stats.entropy.unwrap();
    let (lo, hi) = (ent.min().double_value(&[]), ent.max().double_value(&[]));
    assert!(
        lo >= 0.0 && hi <= (128f64).ln() + 1e-4,
        "entropy in [0, ln V]: {lo} {hi}"
    );
}

#[test]
fn saved_checkpoint_loads_in_transformers() {
    for model in ["llama", "qwen2"] {
        let policy = Policy::load(&fixtures().join(model), Device::Cpu, DType::F32).unwrap();
        let out = tempdir(model);
        policy.save_sharded(&out, 40_000).unwrap();
        assert!(out.join("model.safetensors.index.json").exists());
        let (seqs, _) = reference(model);
        let ours = Policy::load(&out, Device::Cpu, DType::F32)
            .unwrap()
            .sequence_logprobs(&seqs[0])
            .unwrap();
        let theirs = hf_logprobs(&out, &seqs[0]);
        let d = max_diff(&ours, &theirs);
        assert!(d < 1e-4, "{model}: reloaded in transformers, max |Δ| = {d}");
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("saved-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}
