//! Training primitives: gradients of a masked log-prob + entropy objective reach every
//! parameter and agree with central finite differences (f64); LoRA adapters start as the
//! identity, train alone, and merge/export to a checkpoint that `transformers` scores the same.

mod common;

use common::*;
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};
use turnwise_model::{DType, LoraConfig, ModelConfig, Policy, SeqBatch};

fn small(tied: bool) -> Policy {
    let mut c = ModelConfig::preset("tiny-qwen2", Some(32)).unwrap();
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.num_key_value_heads = Some(1);
    c.tie_word_embeddings = tied;
    c.initializer_range = 0.3;
    Policy::new(c, Device::Cpu, DType::F64, 5).unwrap()
}

fn objective(p: &Policy, batch: &SeqBatch, mask: &Tensor) -> Tensor {
    let s = p
        .token_logprobs(&batch.ids, &batch.positions, None, 1.0, true)
        .unwrap();
    let lp = s.logprobs.to_kind(Kind::Double);
    let ent = s.entropy.unwrap().to_kind(Kind::Double);
    let total: Tensor = (lp + ent * 0.1) * mask;
    total.sum(Kind::Double)
}

#[test]
fn gradients_match_finite_differences_for_every_parameter() {
    for tied in [false, true] {
        let p = small(tied);
        let seqs = vec![vec![1, 5, 9, 30, 2, 2], vec![4, 4, 8]];
        let batch = SeqBatch::right_padded(&seqs, 0, Device::Cpu).unwrap();
        let mask = batch
            .mask_from(&[vec![0., 1., 1., 0.5, 1., 1.], vec![0., 1., 1.]])
            .unwrap()
            .to_kind(Kind::Double);
        let loss = objective(&p, &batch, &mask);
        loss.backward();
        let vars = p.var_store().variables();
        let mut names: Vec<_> = vars.keys().cloned().collect();
        names.sort();
        assert_eq!(names.len(), p.var_store().trainable_variables().len());
        for (i, name) in names.iter().enumerate() {
            let v = &vars[name];
            let g = v.grad();
            assert!(g.defined(), "{name}: no gradient");
            assert!(
                g.abs().sum(Kind::Double).double_value(&[]) > 0.0,
                "{name}: zero gradient"
            );
            tch::manual_seed(i as i64);
            let dir = Tensor::randn(v.size(), (Kind::Double, Device::Cpu));
            let analytic = (&g * &dir).sum(Kind::Double).double_value(&[]);
            let eps = 1e-6;
            let f = |s: f64| {
                tch::no_grad(|| {
                    let mut w = v.shallow_clone();
                    let _ = w.g_add_(&(&dir * s));
                    let l = objective(&p, &batch, &mask).double_value(&[]);
                    let _ = w.g_sub_(&(&dir * s));
                    l
                })
            };
            let numeric = (f(eps) - f(-eps)) / (2.0 * eps);
            let rel = (analytic - numeric).abs() / analytic.abs().max(1e-3);
            assert!(
                rel < 1e-5,
                "{name} (tied {tied}): analytic {analytic} numeric {numeric}"
            );
        }
    }
}

#[test]
fn lora_trains_only_adapters_and_merges_into_a_transformers_checkpoint() {
    let mut p = Policy::load(&fixtures().join("llama"), Device::Cpu, DType::F32).unwrap();
    let (seqs, refs) = reference("llama");
    let before = p.sequence_logprobs(&seqs[0]).unwrap();
    assert!(max_diff(&before, &refs[0]) < 1e-4);
    let cfg = LoraConfig {
        rank: 4,
        alpha: 8.0,
        targets: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
        seed: 1,
    };
    p.add_lora(&cfg).unwrap();
    assert!(
        max_diff(&p.sequence_logprobs(&seqs[0]).unwrap(), &before) < 1e-6,
        "B = 0 at start"
    );
    let base_q = p.var_store().variables()["model.layers.0.self_attn.q_proj.weight"].copy();
    let adapters = turnwise_model::lora::trainable_elements(p.var_store());
    assert_eq!(
        adapters,
        2 * 4 * (64 + 64) + 2 * 4 * (64 + 32) + 2 * 4 * (160 + 64)
    );
    let mut opt = nn::AdamW::default().build(p.var_store(), 1e-2).unwrap();
    let batch = SeqBatch::right_padded(&seqs, 0, Device::Cpu).unwrap();
    for _ in 0..5 {
        let s = p
            .token_logprobs(&batch.ids, &batch.positions, None, 1.0, false)
            .unwrap();
        let loss = -s.logprobs.sum(Kind::Float);
        opt.backward_step(&loss);
    }
    let vars = p.var_store().variables();
    assert!(
        vars["model.layers.0.self_attn.q_proj.weight"].equal(&base_q),
        "base frozen"
    );
    let tuned = p.sequence_logprobs(&seqs[0]).unwrap();
    assert!(
        max_diff(&tuned, &before) > 1e-3,
        "adapters changed the model"
    );
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("lora-{}", std::process::id()));
    p.save_lora_adapter(&out.join("adapter"), &cfg).unwrap();
    assert!(out.join("adapter/adapter_model.safetensors").exists());
    p.save(&out.join("merged")).unwrap();
    p.merge_lora().unwrap();
    assert!(!p.has_lora());
    assert!(
        max_diff(&p.sequence_logprobs(&seqs[0]).unwrap(), &tuned) < 1e-4,
        "merge is exact"
    );
    let reloaded = Policy::load(&out.join("merged"), Device::Cpu, DType::F32).unwrap();
    assert!(max_diff(&reloaded.sequence_logprobs(&seqs[0]).unwrap(), &tuned) < 1e-4);
    let hf = hf_logprobs(&out.join("merged"), &seqs[0]);
    assert!(
        max_diff(&hf, &tuned) < 1e-4,
        "transformers scores the merged export the same"
    );
}

#[test]
fn bf16_runs_close_to_f32_and_bad_checkpoints_are_named() {
    let dir = fixtures().join("qwen2");
    let (seqs, refs) = reference("qwen2");
    let p = Policy::load(&dir, Device::Cpu, DType::Bf16).unwrap();
    let lp = p.sequence_logprobs(&seqs[0]).unwrap();
    assert!(max_diff(&lp, &refs[0]) < 0.1, "bf16 within 0.1 nats");
    let bad = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad-ckpt");
    let _ = std::fs::remove_dir_all(&bad);
    std::fs::create_dir_all(&bad).unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    cfg["hidden_size"] = 32.into();
    std::fs::write(bad.join("config.json"), cfg.to_string()).unwrap();
    std::fs::copy(dir.join("model.safetensors"), bad.join("model.safetensors")).unwrap();
    let e = Policy::load(&bad, Device::Cpu, DType::F32)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("model.embed_tokens.weight") && e.contains("shape"),
        "{e}"
    );
    std::fs::remove_file(bad.join("model.safetensors")).unwrap();
    let e = Policy::load(&bad, Device::Cpu, DType::F32)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("model.safetensors"), "{e}");
}
