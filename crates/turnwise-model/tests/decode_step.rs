//! The Rust decoding step (`Policy::decode_step`) against torch's forward pass with the KV
//! cache followed by the decoding head, on the random fixture checkpoint of every layout
//! (Llama, Qwen2 biases, Qwen3 q/k norms, tied and untied heads, each rotary scaling), at 1
//! and 2 threads: two caches prefilled alike with left-padded prompts, then stepped side by
//! side — some rows feeding padding on some steps, past the dynamic-NTK fixture's
//! `max_position_embeddings` — give the same logits, so the cache slots the step writes
//! equal torch's too.

mod common;

use common::*;
use tch::{Device, Kind, Tensor};
use turnwise_model::{DType, KvCache, LoraConfig, Policy};

/// Rows, prompt lengths (left-padded to the longest), steps.
const LENS: [usize; 3] = [12, 5, 9];
const STEPS: usize = 10;

/// Max |Δ| between two logit tensors, relative to the larger magnitude (at least 1).
fn rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    let diff = (a - b).abs().max().double_value(&[]);
    diff / b.abs().max().double_value(&[]).max(1.0)
}

/// Prefills a cache with the left-padded prompts; returns it with each row's next position.
fn prefilled(p: &Policy, prompts: &[Vec<i64>]) -> (KvCache, Vec<i64>) {
    let b = prompts.len();
    let t = prompts.iter().map(Vec::len).max().unwrap();
    let (mut ids, mut pos, mut keep) = (vec![], vec![], vec![]);
    for row in prompts {
        let pad = t - row.len();
        ids.extend(std::iter::repeat_n(0, pad).chain(row.iter().copied()));
        pos.extend(std::iter::repeat_n(0, pad).chain(0..row.len() as i64));
        keep.extend(std::iter::repeat_n(false, pad).chain(std::iter::repeat_n(true, row.len())));
    }
    let shape = [b as i64, t as i64];
    let mut cache = KvCache::new(p, b, 4).unwrap();
    let _hidden = tch::no_grad(|| {
        p.forward_hidden(
            &Tensor::from_slice(&ids).view(shape),
            &Tensor::from_slice(&pos).view(shape),
            Some(&Tensor::from_slice(&keep).view(shape)),
            Some(&mut cache),
        )
        .unwrap()
    });
    (cache, prompts.iter().map(|r| r.len() as i64).collect())
}

/// Steps both paths `STEPS` times from the same prefill; the largest relative logit gap.
fn worst_gap(p: &Policy, seed: i64) -> f64 {
    let vocab = p.config.vocab_size as i64;
    tch::manual_seed(seed);
    let prompts: Vec<Vec<i64>> = LENS
        .iter()
        .map(|&n| {
            Vec::try_from(&Tensor::randint(
                vocab,
                [n as i64],
                (Kind::Int64, Device::Cpu),
            ))
            .unwrap()
        })
        .collect();
    let (mut torch_cache, mut pos) = prefilled(p, &prompts);
    let (mut rust_cache, _) = prefilled(p, &prompts);
    let b = LENS.len() as i64;
    let mut worst = 0f64;
    for step in 0..STEPS {
        let ids: Vec<i64> =
            Vec::try_from(&Tensor::randint(vocab, [b], (Kind::Int64, Device::Cpu))).unwrap();
        // Row `step % 3` feeds padding on every third step, as a finished row does.
        let keep: Vec<bool> = (0..b as usize)
            .map(|r| step % 3 != 1 || r != step % 3)
            .collect();
        let want = tch::no_grad(|| {
            let shape = [b, 1];
            let mask = (!keep.iter().all(|&k| k)).then(|| Tensor::from_slice(&keep).view(shape));
            let h = p
                .forward_hidden(
                    &Tensor::from_slice(&ids).view(shape),
                    &Tensor::from_slice(&pos).view(shape),
                    mask.as_ref(),
                    Some(&mut torch_cache),
                )
                .unwrap();
            p.decode_logits(&h.squeeze_dim(1)).unwrap()
        });
        let got = tch::no_grad(|| p.decode_step(&ids, &pos, &keep, &mut rust_cache))
            .unwrap()
            .expect("the step applies to an f32 CPU model");
        assert_eq!(rust_cache.len(), torch_cache.len());
        worst = worst.max(rel_diff(&got, &want));
        for (q, k) in pos.iter_mut().zip(&keep) {
            *q += *k as i64;
        }
    }
    worst
}

#[test]
fn rust_step_equals_the_torch_step_in_every_layout() {
    let threads = tch::get_num_threads();
    for layout in LAYOUTS {
        let p = Policy::load(&fixtures().join(layout), Device::Cpu, DType::F32).unwrap();
        for t in [1, 2] {
            tch::set_num_threads(t);
            let gap = worst_gap(&p, 7);
            eprintln!("{layout} {t}: {gap:e}");
            assert!(
                gap < 1e-5,
                "{layout}, {t} threads: max relative |Δ logit| {gap}"
            );
        }
    }
    tch::set_num_threads(threads);
}

#[test]
fn step_declines_what_it_does_not_cover() {
    let dir = fixtures().join("qwen2");
    let mut p = Policy::load(&dir, Device::Cpu, DType::F32).unwrap();
    let mut cache = KvCache::new(&p, 2, 4).unwrap();
    let step = |p: &Policy, c: &mut KvCache| p.decode_step(&[1, 2], &[0, 0], &[true, true], c);
    // Under autograd.
    assert!(step(&p, &mut cache).unwrap().is_none());
    // Rows not matching the cache's, a token outside the vocabulary.
    let none = tch::no_grad(|| p.decode_step(&[1], &[0], &[true], &mut cache).unwrap());
    assert!(none.is_none());
    let v = p.config.vocab_size as i64;
    let none = tch::no_grad(|| p.decode_step(&[1, v], &[0, 0], &[true, true], &mut cache));
    assert!(none.unwrap().is_none());
    assert_eq!(cache.len(), 0);
    // An active LoRA adapter (declined), the same adapter switched off (taken).
    p.add_lora(&LoraConfig::default()).unwrap();
    assert!(tch::no_grad(|| step(&p, &mut cache)).unwrap().is_none());
    let off = p.with_adapters_off(|| tch::no_grad(|| step(&p, &mut cache)).unwrap());
    assert!(off.is_some());
    assert_eq!(cache.len(), 1);
    // bf16 weights.
    let p = Policy::load(&dir, Device::Cpu, DType::Bf16).unwrap();
    let mut cache = KvCache::new(&p, 2, 4).unwrap();
    assert!(tch::no_grad(|| step(&p, &mut cache)).unwrap().is_none());
}
