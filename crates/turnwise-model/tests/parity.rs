//! Log-prob parity with `transformers` 4.57 and 5.x to 1e-4 in f32 on every layout
//! (Llama untied with GQA, Qwen2 tied with q/k/v biases, sharded, Qwen3 with q/k norms and an
//! explicit head_dim, tied and untied, bf16 and f16 weights, RoPE scaling llama3 / linear /
//! dynamic / yarn), each checkpoint written by that version's `save_pretrained` (so in its own
//! config.json layout), and the reverse direction: a turnwise-saved checkpoint loads in both
//! versions with matching log-probs.

mod common;

use common::*;
use tch::Device;
use turnwise_model::{DType, Policy};

/// Max |Δ log-prob| of turnwise against the references of `layout` written by `tf`.
fn max_delta(tf: Tf, layout: &str) -> f32 {
    let dir = fixtures_for(tf).join(layout);
    let policy = Policy::load(&dir, Device::Cpu, DType::F32)
        .unwrap_or_else(|e| panic!("{tf:?} {layout}: {e}"));
    let (seqs, refs) = reference_for(tf, layout);
    seqs.iter()
        .zip(&refs)
        .map(|(s, r)| max_diff(&policy.sequence_logprobs(s).unwrap(), r))
        .fold(0.0, f32::max)
}

fn check_all(tf: Tf) {
    let mut worst = vec![];
    for layout in LAYOUTS {
        let d = max_delta(tf, layout);
        eprintln!("parity {tf:?} {layout}: max |Δ log-prob| = {d:.2e}");
        worst.push((d, *layout));
    }
    for (d, layout) in worst {
        assert!(d < 1e-4, "{tf:?} {layout}: max |Δ log-prob| = {d}");
    }
}

#[test]
fn every_layout_matches_transformers_4() {
    check_all(Tf::V4);
}

#[test]
fn every_layout_matches_transformers_5() {
    check_all(Tf::V5);
}

/// The scaled-RoPE fixtures are sensitive to the scaling: the same weights with plain RoPE
/// are off by far more than the tolerance (so the parity tests above can fail).
#[test]
fn scaling_fixtures_fail_with_plain_rope() {
    for layout in ["rope-llama3", "rope-linear", "rope-dynamic", "rope-yarn"] {
        let src = fixtures_for(Tf::V5).join(layout);
        let dir = tempdir(&format!("plain-{layout}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["model.safetensors", "reference.json"] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        let text = std::fs::read_to_string(src.join("config.json")).unwrap();
        let mut cfg: serde_json::Value = serde_json::from_str(&text).unwrap();
        let theta = cfg["rope_parameters"]["rope_theta"].clone();
        cfg["rope_parameters"] = serde_json::json!({"rope_type": "default", "rope_theta": theta});
        std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
        let policy = Policy::load(&dir, Device::Cpu, DType::F32).unwrap();
        let (seqs, refs) = reference_for(Tf::V5, layout);
        let d = max_diff(&policy.sequence_logprobs(&seqs[2]).unwrap(), &refs[2]);
        assert!(d > 1e-3, "{layout}: plain RoPE is only {d} off");
    }
}

#[test]
fn the_two_config_layouts_are_what_each_version_writes() {
    let read = |tf: Tf| -> serde_json::Value {
        let p = fixtures_for(tf).join("rope-llama3/config.json");
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (v4, v5) = (read(Tf::V4), read(Tf::V5));
    assert!(v4.get("rope_parameters").is_none() && v4["rope_scaling"]["rope_type"] == "llama3");
    assert!(v5.get("rope_theta").is_none() && v5["rope_parameters"]["rope_type"] == "llama3");
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
    for (model, tf) in [("qwen2", Tf::V5), ("qwen3", Tf::V4), ("rope-yarn", Tf::V5)] {
        let policy = Policy::load(&fixtures_for(tf).join(model), Device::Cpu, DType::F32).unwrap();
        let out = tempdir(model);
        policy.save_sharded(&out, 40_000).unwrap();
        assert!(out.join("model.safetensors.index.json").exists());
        let (seqs, _) = reference_for(tf, model);
        let ours = Policy::load(&out, Device::Cpu, DType::F32)
            .unwrap()
            .sequence_logprobs(&seqs[2])
            .unwrap();
        // Saved once, loaded by both versions (config.json carries both rope layouts).
        for other in [Tf::V4, Tf::V5] {
            let theirs = hf_logprobs_with(other, &out, &seqs[2]);
            let d = max_diff(&ours, &theirs);
            assert!(d < 1e-4, "{model}: reloaded in {other:?}, max |Δ| = {d}");
        }
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("saved-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}
