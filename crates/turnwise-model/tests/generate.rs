//! Sampling: greedy generation equals step-by-step argmax of teacher-forced logits; the
//! KV cache with left padding and ragged multi-turn appends gives the same log-probs as
//! scoring the full sequences; seeds reproduce bit for bit; truncated log-probs equal
//! raw − log S with S recomputed independently; stop tokens and strings end rows; repeated
//! prompts, prefilled once, sample as if each row had been prefilled on its own.

mod common;

use common::*;
use tch::{Device, Kind, Tensor};
use turnwise_model::{DType, Policy, SamplingConfig, SeqBatch, Session, StopReason};

fn qwen() -> Policy {
    Policy::load(&fixtures().join("qwen2"), Device::Cpu, DType::F32).unwrap()
}

/// log softmax(z/τ) over the vocabulary after `prefix` (independent full recomputation).
fn full_logp(p: &Policy, prefix: &[u32], tau: f64) -> Vec<f32> {
    let b = SeqBatch::right_padded(&[prefix.to_vec()], 0, Device::Cpu).unwrap();
    let logits = tch::no_grad(|| p.forward(&b.ids, &b.positions, None, None).unwrap());
    let last = logits.get(0).get(prefix.len() as i64 - 1);
    Vec::try_from(&(last / tau).log_softmax(-1, Kind::Float)).unwrap()
}

fn argmax(v: &[f32]) -> u32 {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap() as u32
}

#[test]
fn greedy_batch_with_left_padding_matches_full_recomputation() {
    let p = qwen();
    let prompts = vec![vec![5, 9, 17, 33, 2], vec![8], vec![100, 3, 3]];
    let cfg = SamplingConfig {
        max_new_tokens: 6,
        temperature: 0.0,
        ..Default::default()
    };
    let gens = p.generate(&prompts, &cfg, None).unwrap();
    for (prompt, g) in prompts.iter().zip(&gens) {
        assert_eq!(g.tokens.len(), 6);
        assert_eq!(g.stop_reason, StopReason::MaxTokens);
        let mut seq = prompt.clone();
        for (i, &tok) in g.tokens.iter().enumerate() {
            let lp = full_logp(&p, &seq, 1.0);
            assert_eq!(tok, argmax(&lp), "step {i}");
            assert!((g.logprobs_raw[i] - lp[tok as usize]).abs() < 1e-4);
            assert_eq!(g.logprobs_trunc[i], 0.0);
            seq.push(tok);
        }
    }
}

#[test]
fn sampled_logprobs_match_teacher_forcing_and_truncation_mass() {
    let p = qwen();
    let prompts = vec![vec![1, 2, 3, 4], vec![7, 7]];
    let cfg = SamplingConfig {
        max_new_tokens: 8,
        temperature: 0.7,
        top_p: 0.8,
        top_k: 20,
        seed: 42,
        ..Default::default()
    };
    let gens = p.generate(&prompts, &cfg, None).unwrap();
    for (prompt, g) in prompts.iter().zip(&gens) {
        let mut seq = prompt.clone();
        for (i, &tok) in g.tokens.iter().enumerate() {
            let lp = full_logp(&p, &seq, 0.7);
            assert!((g.logprobs_raw[i] - lp[tok as usize]).abs() < 1e-4);
            // S: mass of the top-k tokens whose renormalised prefix mass before them is < p.
            let mut sorted = lp.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let top: Vec<f64> = sorted[..20].iter().map(|&x| (x as f64).exp()).collect();
            let z: f64 = top.iter().sum();
            let (mut before, mut s) = (0.0, 0.0);
            for &q in &top {
                if before / z < 0.8 {
                    s += q;
                }
                before += q;
            }
            let want = lp[tok as usize] as f64 - s.ln();
            assert!((g.logprobs_trunc[i] as f64 - want).abs() < 1e-4, "step {i}");
            assert!(g.logprobs_trunc[i] >= g.logprobs_raw[i] - 1e-6);
            seq.push(tok);
        }
    }
    let again = p.generate(&prompts, &cfg, None).unwrap();
    assert_eq!(gens, again, "same seed, same result");
    let other = p
        .generate(
            &prompts,
            &SamplingConfig {
                seed: 43,
                ..cfg.clone()
            },
            None,
        )
        .unwrap();
    assert_ne!(gens, other);
}

#[test]
fn multi_turn_session_matches_scoring_the_whole_transcript() {
    let p = qwen();
    let mut s = Session::new(&p, 2, 4).unwrap();
    s.append(&[vec![3, 4, 5], vec![9]]).unwrap();
    let cfg = SamplingConfig {
        max_new_tokens: 5,
        temperature: 1.0,
        seed: 7,
        stop_tokens: vec![11, 12, 13],
        ..Default::default()
    };
    let t1 = s.generate(&cfg, None).unwrap();
    // Ragged observations, then a second turn.
    s.append(&[vec![20, 21], vec![30, 31, 32, 33]]).unwrap();
    let t2 = s.generate(&cfg, None).unwrap();
    assert!(
        s.cache().capacity() >= s.cache().len(),
        "cache grew in place"
    );
    let rows = [
        (vec![3, 4, 5], vec![20, 21]),
        (vec![9], vec![30, 31, 32, 33]),
    ];
    for (r, (prompt, obs)) in rows.iter().enumerate() {
        let mut seq = prompt.clone();
        let check = |seq: &mut Vec<u32>, g: &turnwise_model::Generation| {
            for (i, &tok) in g.tokens.iter().enumerate() {
                let lp = full_logp(&p, seq, 1.0);
                assert!(
                    (g.logprobs_raw[i] - lp[tok as usize]).abs() < 1e-4,
                    "row {r}"
                );
                seq.push(tok);
            }
        };
        check(&mut seq, &t1[r]);
        seq.extend(obs);
        check(&mut seq, &t2[r]);
    }
}

#[test]
fn stop_tokens_and_stop_strings_end_rows() {
    let p = qwen();
    let tok = tokenizers::Tokenizer::from_file(fixtures().join("qwen2/tokenizer.json")).unwrap();
    let greedy = SamplingConfig {
        max_new_tokens: 6,
        temperature: 0.0,
        ..Default::default()
    };
    let free = p.generate(&[vec![5, 6]], &greedy, None).unwrap().remove(0);
    let third = free.tokens[2];
    let cfg = SamplingConfig {
        stop_tokens: vec![third],
        ..greedy.clone()
    };
    let g = p.generate(&[vec![5, 6]], &cfg, None).unwrap().remove(0);
    let first = free.tokens.iter().position(|&t| t == third).unwrap();
    assert_eq!(g.tokens, free.tokens[..=first].to_vec());
    assert_eq!(g.stop_reason, StopReason::StopToken(third));
    let word = format!("w{}", free.tokens[1]);
    let cfg = SamplingConfig {
        stop_strings: vec![word.clone()],
        ..greedy
    };
    let g = p
        .generate(&[vec![5, 6]], &cfg, Some(&tok))
        .unwrap()
        .remove(0);
    let first = free
        .tokens
        .iter()
        .position(|&t| format!("w{t}").contains(&word))
        .unwrap();
    assert_eq!(g.tokens, free.tokens[..=first].to_vec());
    assert_eq!(g.stop_reason, StopReason::StopString(word));
    let e = p
        .generate(
            &[vec![5]],
            &SamplingConfig {
                top_p: 0.0,
                ..Default::default()
            },
            None,
        )
        .unwrap_err();
    assert!(e.to_string().contains("top-p"));
    let e = p
        .generate(&[vec![500]], &Default::default(), None)
        .unwrap_err();
    assert!(e.to_string().contains("vocabulary"));
}

#[test]
fn sampling_frequencies_follow_the_truncated_distribution() {
    // One step from the same prompt in 4000 rows: empirical frequencies ≈ exp(logprobs_trunc).
    let p = qwen();
    let n = 4000;
    let prompts = vec![vec![1u32, 2, 3]; n];
    let cfg = SamplingConfig {
        max_new_tokens: 1,
        top_k: 5,
        seed: 3,
        ..Default::default()
    };
    let gens = p.generate(&prompts, &cfg, None).unwrap();
    let mut counts = std::collections::HashMap::<u32, (usize, f32)>::new();
    for g in &gens {
        let e = counts
            .entry(g.tokens[0])
            .or_insert((0, g.logprobs_trunc[0]));
        e.0 += 1;
    }
    assert!(counts.len() <= 5);
    let total: f32 = counts.values().map(|c| c.1.exp()).sum();
    assert!(
        (total - 1.0).abs() < 1e-3,
        "kept tokens' truncated mass sums to 1"
    );
    for (tok, (c, lp)) in counts {
        let (f, q) = (c as f64 / n as f64, (lp as f64).exp());
        assert!(
            (f - q).abs() < 4.0 * (q * (1.0 - q) / n as f64).sqrt() + 1e-3,
            "token {tok}: {f} vs {q}"
        );
    }
    let _ = Tensor::zeros([1], (Kind::Float, Device::Cpu));
}

#[test]
fn repeated_prompts_prefilled_once_sample_like_separate_rows() {
    let p = qwen();
    let a = vec![5, 9, 17, 33, 2];
    let b = vec![100, 3];
    let prompts = vec![a.clone(), b.clone(), a.clone(), a, b];
    let cfg = SamplingConfig {
        max_new_tokens: 8,
        temperature: 1.0,
        top_k: 20,
        seed: 11,
        ..Default::default()
    };
    let fanned = p.generate(&prompts, &cfg, None).unwrap();
    // The same rows prefilled one by one in a session (no sharing).
    let mut s = Session::new(&p, prompts.len(), 16).unwrap();
    for r in 0..prompts.len() {
        let mut rows = vec![vec![]; prompts.len()];
        rows[r] = prompts[r].clone();
        s.append(&rows).unwrap();
    }
    let separate = s.generate(&cfg, None).unwrap();
    assert_eq!(fanned.len(), separate.len());
    for (f, g) in fanned.iter().zip(&separate) {
        assert_eq!(f.tokens, g.tokens);
        for (x, y) in f.logprobs_raw.iter().zip(&g.logprobs_raw) {
            assert!((x - y).abs() < 1e-4, "{x} {y}");
        }
    }
    // Rows with the same prompt still draw their own samples.
    assert!(fanned[0].tokens != fanned[2].tokens || fanned[0].tokens != fanned[3].tokens);
}

/// Decoding's logits (the few-row kernel for f32 CPU rows up to 16, torch beyond) equal the
/// scoring path's (`Policy::logits`, torch's `x Wᵀ`) to float tolerance, at 1 and 2 threads.
#[test]
fn decode_logits_equal_the_scoring_head() {
    let p = qwen();
    let d = p.config.hidden_size as i64;
    let threads = tch::get_num_threads();
    tch::manual_seed(11);
    for t in [1, 2] {
        tch::set_num_threads(t);
        for rows in [1, 5, 8, 16, 17] {
            let h = Tensor::randn([rows, d], (Kind::Float, Device::Cpu));
            let (a, b) = tch::no_grad(|| (p.decode_logits(&h).unwrap(), p.logits(&h).unwrap()));
            assert_eq!(a.size(), b.size());
            let diff = (&a - &b).abs().max().double_value(&[]);
            let scale = b.abs().max().double_value(&[]).max(1.0);
            assert!(
                diff <= 1e-5 * scale,
                "{t} threads, {rows} rows: max |Δ| {diff}"
            );
        }
    }
    tch::set_num_threads(threads);
}
