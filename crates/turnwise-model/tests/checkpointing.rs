//! Activation checkpointing: the gradients of every trainable parameter equal those of the
//! plain backward pass (Llama and Qwen3 layouts, full fine-tuning and LoRA, two micro-batches
//! accumulated, left-padded and unpadded batches), and nothing is recorded without autograd.

use tch::{Device, Kind, Tensor};
use turnwise_model::{DType, LoraConfig, ModelConfig, Policy};

fn config(layout: &str) -> ModelConfig {
    let mut c = ModelConfig::preset("tiny", Some(40)).unwrap();
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_hidden_layers = 3;
    c.num_attention_heads = 4;
    c.num_key_value_heads = Some(2);
    c.initializer_range = 0.3;
    if layout == "qwen3" {
        c.model_type = "qwen3".into();
        c.architectures = vec!["Qwen3ForCausalLM".into()];
        c.head_dim = Some(6);
        c.tie_word_embeddings = true;
    }
    c
}

fn model(layout: &str, dtype: DType, lora: bool, checkpointing: bool) -> Policy {
    let mut p = Policy::new(config(layout), Device::Cpu, dtype, 11).unwrap();
    if lora {
        p.add_lora(&LoraConfig {
            rank: 2,
            alpha: 4.0,
            targets: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
            seed: 3,
        })
        .unwrap();
        // B starts at zero; move it so the adapters change the gradients below them.
        tch::no_grad(|| {
            for (name, mut v) in p.var_store().variables() {
                if name.contains("lora_B") {
                    let _ = v.f_add_(&(v.ones_like() * 0.05)).unwrap();
                }
            }
        });
    }
    p.set_gradient_checkpointing(checkpointing);
    p
}

/// Left-padded ids, positions and validity of `seqs`.
fn batch(seqs: &[&[i64]]) -> (Tensor, Tensor, Tensor) {
    let l = seqs.iter().map(|s| s.len()).max().unwrap();
    let (mut ids, mut keep) = (vec![], vec![]);
    for s in seqs {
        ids.extend(std::iter::repeat_n(0i64, l - s.len()).chain(s.iter().copied()));
        keep.extend((0..l).map(|i| i >= l - s.len()));
    }
    let shape = [seqs.len() as i64, l as i64];
    let keep = Tensor::from_slice(&keep).view(shape);
    let pos = (keep.to_kind(Kind::Int64).cumsum(1, Kind::Int64) - 1).clamp_min(0);
    (Tensor::from_slice(&ids).view(shape), pos, keep)
}

/// Σ (log-prob + 0.1·entropy) over real tokens of two micro-batches, each back-propagated
/// through `Policy::backward`; the trainable parameters' gradients by name.
fn gradients(p: &Policy) -> Vec<(String, Tensor)> {
    let micro: [(Vec<&[i64]>, bool); 2] = [
        (
            vec![&[1, 5, 9, 30, 2, 7], &[4, 8, 3], &[12, 6, 6, 21]],
            true,
        ),
        (vec![&[3, 14, 15, 9, 2], &[27, 18, 28, 18, 28]], false),
    ];
    for (seqs, padded) in micro {
        let (ids, pos, keep) = batch(&seqs);
        let keep_arg = padded.then_some(&keep);
        let s = p.token_logprobs(&ids, &pos, keep_arg, 1.0, true).unwrap();
        let w = keep.to_kind(Kind::Double);
        let total =
            (s.logprobs.to_kind(Kind::Double) + s.entropy.unwrap().to_kind(Kind::Double) * 0.1) * w;
        p.backward(&total.sum(Kind::Double)).unwrap();
    }
    let mut out: Vec<(String, Tensor)> = p
        .var_store()
        .variables()
        .into_iter()
        .filter(|(_, v)| v.requires_grad())
        .map(|(n, v)| (n, v.grad().to_kind(Kind::Double)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn checkpointed_gradients_equal_plain_ones() {
    for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 2e-5)] {
        for layout in ["llama", "qwen3"] {
            for lora in [false, true] {
                let case = format!("{layout} {dtype:?} lora={lora}");
                let plain = gradients(&model(layout, dtype, lora, false));
                let ckpt = gradients(&model(layout, dtype, lora, true));
                assert_eq!(plain.len(), ckpt.len(), "{case}");
                if lora {
                    assert!(plain.iter().all(|(n, _)| n.contains("lora_")), "{case}");
                }
                for ((n, a), (m, b)) in plain.iter().zip(&ckpt) {
                    assert_eq!(n, m);
                    assert!(a.defined() && b.defined(), "{case} {n}: no gradient");
                    let scale = a.abs().max().double_value(&[]);
                    assert!(scale > 0.0, "{case} {n}: zero gradient");
                    let diff = (a - b).abs().max().double_value(&[]);
                    assert!(
                        diff <= tol * scale.max(1.0),
                        "{case} {n}: |Δ| {diff:e} (scale {scale:e})"
                    );
                }
            }
        }
    }
}

#[test]
fn nothing_is_recorded_without_autograd() {
    let p = model("llama", DType::F32, false, true);
    let (ids, pos, keep) = batch(&[&[1, 2, 3], &[4, 5]]);
    let a = tch::no_grad(|| {
        p.token_logprobs(&ids, &pos, Some(&keep), 1.0, false)
            .unwrap()
    });
    let plain = model("llama", DType::F32, false, false);
    let b = tch::no_grad(|| {
        plain
            .token_logprobs(&ids, &pos, Some(&keep), 1.0, false)
            .unwrap()
    });
    assert_eq!(
        Vec::<f32>::try_from(a.logprobs.flatten(0, -1)).unwrap(),
        Vec::<f32>::try_from(b.logprobs.flatten(0, -1)).unwrap()
    );
    // A backward pass after it has nothing to recompute: the loss here is a plain leaf.
    let x = Tensor::ones([1], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    p.backward(&(&x * 2.0).sum(Kind::Float)).unwrap();
    assert!(p
        .var_store()
        .variables()
        .values()
        .all(|v| !v.grad().defined()));
}
