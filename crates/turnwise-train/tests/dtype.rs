//! `model.dtype` in the trainer: 16-bit policies score in f32 close to the f32 policy, train
//! through f32 master weights, and checkpoint and resume bit for bit. (`run.device` = cuda is
//! refused by name on a machine without CUDA: `config::key_tests`.)

mod common;

use tch::{Device, Kind, Tensor};
use turnwise_model::DType;
use turnwise_train::config::ModelConfig;
use turnwise_train::optim::AdamW;
use turnwise_train::policy::{Placement, Policy, WordTokenizer};

fn policy(dtype: DType) -> Policy {
    let tok = WordTokenizer::build(["a b c d e f g h\nmove up down left right"]);
    let cfg = ModelConfig {
        d_model: 32,
        layers: 2,
        heads: 2,
        d_ff: 64,
        max_context: 64,
        ..ModelConfig::default()
    };
    let place = Placement {
        device: Device::Cpu,
        dtype,
        ..Placement::default()
    };
    Policy::new_on(&cfg, tok, 3, place).unwrap()
}

const SEQS: [&[u32]; 2] = [&[2, 3, 4, 5, 6, 7, 8, 3, 9, 10], &[4, 5, 6, 11, 12]];
const LENS: [usize; 2] = [4, 2];

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
}

/// Max |Δ log-prob| of 16-bit policies against f32 (the same initial weights, rounded).
/// bf16 keeps 8 mantissa bits, f16 11: the bounds hold for this 2-layer model with margin.
#[test]
fn half_precision_logprobs_come_back_in_f32_close_to_f32() {
    let reference = tch::no_grad(|| policy(DType::F32).score_actions(&SEQS, &LENS).unwrap());
    for (dtype, tol) in [(DType::Bf16, 5e-3f32), (DType::F16, 5e-4)] {
        let p = policy(dtype);
        assert!(p.parameters().iter().all(|t| t.kind() == dtype.kind()));
        let s = tch::no_grad(|| p.score_actions(&SEQS, &LENS).unwrap());
        assert_eq!(s.logp.kind(), Kind::Float);
        assert_eq!(s.logp.device(), Device::Cpu);
        let (a, b) = (values(&reference.logp), values(&s.logp));
        let d = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        eprintln!("{}: max |Δ log-prob| vs f32 = {d:.2e}", dtype.name());
        assert!(d < tol, "{}: max |Δ log-prob| = {d}", dtype.name());
        assert!(d > 0.0, "{}: identical to f32, not 16-bit", dtype.name());
    }
}

#[test]
fn bf16_parameters_train_through_f32_masters() {
    let p = policy(DType::Bf16);
    let mut opt = AdamW::new(p.parameters(), 0.9, 0.999, 1e-8, 0.0);
    assert!(opt
        .masters
        .iter()
        .all(|w| w.as_ref().is_some_and(|w| w.kind() == Kind::Float)));
    assert!(opt.m.iter().chain(&opt.v).all(|t| t.kind() == Kind::Float));
    let before: Vec<Tensor> = opt.masters.iter().flatten().map(Tensor::copy).collect();
    let bf_before: Vec<Tensor> = opt.params.iter().map(|t| t.detach().copy()).collect();
    for _ in 0..3 {
        opt.zero_grad();
        let s = p.score_actions(&SEQS, &LENS).unwrap();
        (s.logp * s.mask).sum(Kind::Float).neg().backward();
        // An update far below bf16's spacing near typical weights (≈ 1e-4 at 0.02).
        opt.step(1e-6);
    }
    let (mut moved, mut bf_moved, mut total) = (0i64, 0i64, 0i64);
    for ((w, w0), (p, p0)) in opt
        .masters
        .iter()
        .flatten()
        .zip(&before)
        .zip(opt.params.iter().zip(&bf_before))
    {
        total += w.numel() as i64;
        moved += w.ne_tensor(w0).sum(Kind::Int64).int64_value(&[]);
        bf_moved += p.ne_tensor(p0).sum(Kind::Int64).int64_value(&[]);
        // The parameter is its master rounded to bf16.
        assert!(p.equal(&w.to_kind(Kind::BFloat16)));
    }
    eprintln!("masters moved {moved}/{total}, bf16 weights {bf_moved}/{total}");
    assert!(moved * 2 > total, "masters moved {moved}/{total}");
    assert!(bf_moved < moved, "bf16 {bf_moved} vs masters {moved}");
}

#[test]
fn bf16_run_checkpoints_and_resumes_bit_for_bit() {
    tch::set_num_threads(1);
    let tiny = |extra: &[&str]| {
        common::config_with(
            &[
                "model.dtype=\"bf16\"",
                "env.group_size=2",
                "env.tasks_per_step=2",
                "env.max_turns=4",
                "run.steps=4",
                "checkpoint.every=2",
                "checkpoint.keep=5",
                "eval.episodes=2",
                "eval.max_turns=3",
                "run.threads=1",
            ],
            extra,
        )
    };
    let tmp = std::env::temp_dir().join(format!("tw-bf16-{}", std::process::id()));
    let (ca, _) = common::resume_matches_straight(tiny, &tmp);
    let w = Tensor::read_safetensors(ca.join("model.safetensors")).unwrap();
    assert!(w.iter().all(|(_, t)| t.kind() == Kind::BFloat16));
    // The saved optimizer state holds the f32 masters.
    let saved = Tensor::read_safetensors(ca.join("optimizer.safetensors")).unwrap();
    assert!(saved
        .iter()
        .any(|(k, t)| k.starts_with("w.") && t.kind() == Kind::Float));
    let _ = std::fs::remove_dir_all(&tmp);
}
