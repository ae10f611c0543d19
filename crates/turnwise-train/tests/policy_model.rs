//! The trainer's policy on turnwise-model: scoring is padding-invariant, the sampler's
//! log-probs are the scorer's, the saved folder is a Hugging Face checkpoint that
//! turnwise-model loads, and sampling is reproducible from the run's stream.

use turnwise_train::config::ModelConfig;
use turnwise_train::policy::generate::SampleSpec;
use turnwise_train::policy::{Policy, WordTokenizer};

fn policy(seed: u64) -> Policy {
    let tok = WordTokenizer::build(["a b c d e f g h\nmove up down left right"]);
    let cfg = ModelConfig {
        d_model: 16,
        layers: 2,
        heads: 2,
        d_ff: 24,
        max_context: 64,
        ..ModelConfig::default()
    };
    Policy::new(&cfg, tok, seed).unwrap()
}

fn values(t: &tch::Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
}

#[test]
fn scores_of_a_padded_row_equal_its_scores_alone() {
    let p = policy(3);
    let long: Vec<u32> = vec![2, 3, 4, 5, 6, 7, 8, 3];
    let short: Vec<u32> = vec![4, 5, 6];
    let both = tch::no_grad(|| p.score_actions(&[&long, &short], &[3, 2]).unwrap());
    let alone = tch::no_grad(|| p.score_actions(&[&short], &[2]).unwrap());
    let (b, a) = (values(&both.logp), values(&alone.logp));
    let (be, ae) = (values(&both.entropy), values(&alone.entropy));
    // Row 1 of the batch, its two action tokens (width 3).
    for k in 0..2 {
        assert!(
            (b[3 + k] - a[k]).abs() < 1e-5,
            "logp {k}: {} vs {}",
            b[3 + k],
            a[k]
        );
        assert!((be[3 + k] - ae[k]).abs() < 1e-5, "entropy {k}");
    }
    assert_eq!(values(&both.mask), vec![1., 1., 1., 1., 1., 0.]);
}

#[test]
fn sampled_logprobs_are_the_teacher_forced_ones_and_reproducible() {
    let p = policy(5);
    let spec = SampleSpec {
        max_new: 5,
        stop: p.tokenizer.id("\n"),
        eos: None,
        stop_text: None,
        temperature: 1.0,
        greedy: false,
    };
    let contexts = vec![vec![2u32, 3, 4], vec![5u32, 6]];
    let mut rng = turnwise_core::seed::rng(7, 1);
    let gens = p.generate(&contexts, &spec, &mut rng).unwrap();
    let mut rng2 = turnwise_core::seed::rng(7, 1);
    assert_eq!(gens, p.generate(&contexts, &spec, &mut rng2).unwrap());
    for (ctx, g) in contexts.iter().zip(&gens) {
        assert!(!g.ids.is_empty() && g.ids.len() <= 5);
        assert_eq!(g.stopped, Some(*g.ids.last().unwrap()) == spec.stop);
        let mut seq = ctx.clone();
        seq.extend(&g.ids);
        let s = tch::no_grad(|| p.score_actions(&[&seq], &[g.ids.len()]).unwrap());
        for (x, y) in values(&s.logp).iter().zip(&g.logprobs) {
            assert!((x - y).abs() < 1e-4, "scored {x}, sampled {y}");
        }
    }
}

#[test]
fn saved_folder_is_a_hugging_face_checkpoint() {
    let p = policy(9);
    let dir = std::env::temp_dir().join(format!("tw-policy-model-{}", std::process::id()));
    p.save(&dir).unwrap();
    let m =
        turnwise_model::Policy::load(&dir, tch::Device::Cpu, turnwise_model::DType::F32).unwrap();
    assert_eq!(m.config.vocab_size, p.tokenizer.vocab_size());
    assert_eq!(m.config.hidden_size, 16);
    let q = Policy::load(&dir).unwrap();
    let seq = vec![2u32, 3, 4, 5];
    let a = tch::no_grad(|| values(&p.score_actions(&[&seq], &[2]).unwrap().logp));
    let b = tch::no_grad(|| values(&q.score_actions(&[&seq], &[2]).unwrap().logp));
    assert_eq!(a, b);
    std::fs::remove_dir_all(&dir).ok();
}
