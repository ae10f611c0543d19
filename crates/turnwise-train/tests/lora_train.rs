//! `[model.lora]`: the trainer trains adapters only on a frozen pretrained model; the KL
//! reference is the same model with its adapters switched off (no copy on disk or in
//! memory); checkpoints hold merged weights plus PEFT adapters, and a resumed run continues
//! from the base and the saved adapters.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use tch::Tensor;
use turnwise_model::{DType, ModelConfig};
use turnwise_train::config;
use turnwise_train::policy::{Policy, PolicyTokenizer};
use turnwise_train::train::run::Trainer;

/// A small random Llama with SmolLM2's tokenizer, saved as a Hugging Face folder.
fn base_model(dir: &Path) {
    let gguf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        gguf.exists(),
        "{}: run scripts/setup.d/20-model.sh",
        gguf.display()
    );
    let PolicyTokenizer::Hf(hf) = PolicyTokenizer::from_dir(&gguf).unwrap() else {
        panic!("a Hugging Face tokenizer")
    };
    let mut mc = ModelConfig::preset("tiny", Some(hf.vocab_size())).unwrap();
    (mc.hidden_size, mc.num_hidden_layers, mc.intermediate_size) = (16, 2, 32);
    (mc.num_attention_heads, mc.num_key_value_heads) = (2, Some(2));
    mc.max_position_embeddings = 1024;
    let model = turnwise_model::Policy::new(mc, tch::Device::Cpu, DType::F32, 9).unwrap();
    model.save(dir).unwrap();
    hf.save_dir(dir).unwrap();
}

fn sets(base: &Path, steps: u64) -> Vec<String> {
    [
        format!("model.path=\"{}\"", base.display()),
        "model.lora.rank=2".into(),
        "model.lora.alpha=4".into(),
        "model.lora.targets=[\"q_proj\", \"v_proj\", \"down_proj\"]".into(),
        "loss.kl=\"k3\"".into(),
        "loss.kl_coef=0.1".into(),
        "env.format=\"chat\"".into(),
        "env.history=\"full\"".into(),
        "sft.enabled=false".into(),
        "model.max_context=512".into(),
        "env.group_size=2".into(),
        "env.tasks_per_step=2".into(),
        "env.max_turns=2".into(),
        "sampling.max_action_tokens=4".into(),
        "optim.lr=0.05".into(),
        "optim.micro_batch=4".into(),
        "optim.ppo_epochs=1".into(),
        format!("run.steps={steps}"),
        "checkpoint.every=1".into(),
        "eval.episodes=2".into(),
        "eval.max_turns=2".into(),
        "run.threads=1".into(),
    ]
    .into()
}

/// Every variable of the policy, by name.
fn named(p: &Policy) -> Vec<(String, Tensor)> {
    let mut v: Vec<_> = p.model.var_store().variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn equal(a: &Tensor, b: &Tensor) -> bool {
    a.size() == b.size() && a.equal(b)
}

#[test]
fn lora_trains_adapters_only_against_the_base_and_resumes() {
    tch::set_num_threads(1);
    let tmp: PathBuf = std::env::temp_dir().join(format!("tw-lora-{}", std::process::id()));
    let base = tmp.join("base");
    base_model(&base);
    let run = tmp.join("run");
    let cfg = config::load(None, &sets(&base, 2)).unwrap();
    let mut t = Trainer::start(cfg, &run, |_, _| true).unwrap();
    // Adapters only: 2 layers × 3 targets × (A, B).
    assert_eq!(t.policy.parameters().len(), 12);
    let mut kls = vec![];
    t.run(&AtomicBool::new(false), |m| {
        assert!(m.loss.is_finite());
        kls.push(m.kl);
    })
    .unwrap();
    // No reference copy: π_ref is the base model, adapters off. The first step's policy
    // is the base (B = 0; one epoch, so its KL is measured before its update); after an
    // update the adapters move it away.
    assert!(!run.join("reference").exists());
    assert_eq!(kls.len(), 2);
    assert_eq!(kls[0], 0.0, "{kls:?}");
    assert!(kls[1] > 0.0 && kls[1].is_finite(), "{kls:?}");

    // The base weights did not move; the adapters did.
    let fresh = Policy::load(&base).unwrap();
    let before: std::collections::HashMap<String, Tensor> = named(&fresh).into_iter().collect();
    let mut moved = 0;
    for (name, v) in named(&t.policy) {
        match before.get(&name) {
            Some(b) => assert!(equal(b, &v), "{name} changed"),
            None => {
                assert!(name.contains(".lora_"), "{name}");
                moved += usize::from(
                    name.contains("lora_B")
                        && v.abs().sum(tch::Kind::Double).double_value(&[]) > 0.0,
                );
            }
        }
    }
    assert_eq!(moved, 6, "every B left zero");

    // Adapters off is exactly the base model.
    let ids: Vec<u32> = (1..40).collect();
    let base_lp = fresh.model.sequence_logprobs(&ids).unwrap();
    let off = t
        .policy
        .model
        .with_adapters_off(|| t.policy.model.sequence_logprobs(&ids))
        .unwrap();
    assert_eq!(base_lp, off);
    let on = t.policy.model.sequence_logprobs(&ids).unwrap();
    assert_ne!(on, off, "the adapters are back on");

    // Checkpoints: merged weights (a plain folder any tool loads) plus PEFT adapters.
    let ck = turnwise_train::train::checkpoint::dir_of(&run, 2);
    assert!(ck.join("adapter_model.safetensors").is_file());
    assert!(ck.join("adapter_config.json").is_file());
    let merged = Policy::load(&ck).unwrap();
    let m = merged.model.sequence_logprobs(&ids).unwrap();
    assert!(
        m.iter().zip(&on).all(|(a, b)| (a - b).abs() < 1e-4),
        "merged {m:?} vs adapted {on:?}"
    );

    // Resume: the base from model.path and the adapters from the checkpoint.
    let trained = named(&t.policy);
    drop(t);
    let r = Trainer::resume(&run, &["run.steps=3".into()]).unwrap();
    let resumed = named(&r.policy);
    assert_eq!(trained.len(), resumed.len());
    for ((n1, a), (n2, b)) in trained.iter().zip(&resumed) {
        assert_eq!(n1, n2);
        assert!(equal(a, b), "{n1} differs after resume");
    }
    assert_eq!(r.policy.parameters().len(), 12);
    std::fs::remove_dir_all(&tmp).ok();
}
