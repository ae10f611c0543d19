//! `model.path`: RL (with an SFT warm start) from a Hugging Face checkpoint folder whose
//! tokenizer is a byte-level BPE `tokenizer.json`, built here from the environment's texts
//! (nothing is downloaded). Contexts are token ids as recorded, actions decode to their
//! text, and checkpoints keep the Hugging Face tokenizer.

use std::sync::atomic::AtomicBool;

use tch::Device;
use turnwise_model::tokenizer::{Tokenizer, TrainOptions};
use turnwise_model::{DType, ModelConfig};
use turnwise_train::config::{self, Config};
use turnwise_train::policy::{Policy, PolicyTokenizer};
use turnwise_train::train::run::Trainer;

fn cfg(extra: &[String]) -> Config {
    let mut sets: Vec<String> = [
        "model.max_context=256",
        "env.group_size=2",
        "env.tasks_per_step=2",
        "env.max_turns=3",
        "sampling.max_action_tokens=6",
        "sft.episodes=4",
        "sft.steps=4",
        "sft.batch=8",
        "run.steps=2",
        "checkpoint.every=1",
        "eval.episodes=2",
        "eval.max_turns=3",
        "run.threads=1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sets.extend(extra.iter().cloned());
    config::load(None, &sets).unwrap()
}

#[test]
fn rl_starts_from_a_hugging_face_folder_with_a_bpe_tokenizer() {
    tch::set_num_threads(1);
    let tmp = std::env::temp_dir().join(format!("tw-model-path-{}", std::process::id()));
    let hf = tmp.join("hf");
    // A byte-level BPE tokenizer trained on the maze's texts and a fresh Llama checkpoint.
    let texts = turnwise_train::train::envs::vocabulary_texts(&cfg(&[]), &[]).unwrap();
    let tok = Tokenizer::train_from_texts(&texts, &TrainOptions::new(320)).unwrap();
    let mut mc = ModelConfig::preset("tiny", Some(tok.vocab_size())).unwrap();
    (mc.hidden_size, mc.num_hidden_layers, mc.intermediate_size) = (32, 1, 64);
    (mc.num_attention_heads, mc.num_key_value_heads) = (2, Some(2));
    mc.max_position_embeddings = 512;
    let model = turnwise_model::Policy::new(mc, Device::Cpu, DType::F32, 3).unwrap();
    model.save(&hf).unwrap();
    tok.save_dir(&hf).unwrap();
    let eos = tok.special().eos;
    assert!(
        eos.is_some(),
        "the trained tokenizer has an end-of-sequence token"
    );

    let run = tmp.join("run");
    let c = cfg(&[format!("model.path=\"{}\"", hf.display())]);
    let mut t = Trainer::start(c, &run, |_, nll| {
        assert!(nll.is_finite());
        true
    })
    .unwrap();
    assert!(matches!(t.policy.tokenizer, PolicyTokenizer::Hf(_)));
    assert_eq!(t.policy.tokenizer.eos(), eos);
    let end = t
        .run(&AtomicBool::new(false), |m| assert!(m.loss.is_finite()))
        .unwrap();
    assert_eq!(end.line["step"], 2, "{}", end.line);

    // Token-in / token-out with the BPE tokenizer: observation ids encode the text exactly
    // once, and every action's text is the decoding of the ids the policy sampled.
    let batch = turnwise_core::jsonl::read_batch(&run.join("rollouts/last.jsonl")).unwrap();
    let saved = Policy::load(&turnwise_train::train::checkpoint::dir_of(&run, 2)).unwrap();
    assert!(matches!(saved.tokenizer, PolicyTokenizer::Hf(_)));
    // Contexts start with the tokenizer's own BOS (this BPE has none), not the word
    // vocabulary's id 0 (here `<|endoftext|>`).
    assert_eq!(tok.special().bos, None);
    let spec = turnwise_train::train::eval::rollout_spec(&t.cfg, &t.policy, Some("\n"), 3, false);
    let h = spec.history;
    // "\n" is one BPE token here, and is also matched on the decoded text (merged tokens).
    assert!(spec.sample.stop.is_some());
    assert_eq!(spec.sample.stop_text, Some("\n"));
    let first = batch.trajectories().next().unwrap();
    assert_eq!(
        turnwise_train::rollout::context_of(first, 0, h),
        first.turns[0].observation.token_ids
    );
    let mut turns = 0;
    for tr in batch.trajectories() {
        for u in &tr.turns {
            let ids = tok.encode_with(&u.observation.text, false).unwrap();
            assert_eq!(u.observation.token_ids, ids);
            assert_eq!(
                saved.tokenizer.decode(&u.action.token_ids).unwrap(),
                u.action.text
            );
            assert_eq!(u.action.token_ids.len(), u.action_logprobs.len());
            turns += 1;
        }
    }
    assert!(turns >= 4);

    // A context longer than the checkpoint's position table is refused with both numbers.
    let c = cfg(&[
        format!("model.path=\"{}\"", hf.display()),
        "model.max_context=1024".into(),
    ]);
    let err = Trainer::start(c, &tmp.join("run2"), |_, _| true)
        .err()
        .expect("max_context beyond the model");
    assert!(
        err.to_string().contains("1024") && err.to_string().contains("512"),
        "{err}"
    );
    std::fs::remove_dir_all(&tmp).ok();
}
