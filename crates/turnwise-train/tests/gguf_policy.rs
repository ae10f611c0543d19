//! `model.path` may name a GGUF file: the trainer's policy loads SmolLM2-135M-Instruct
//! (scripts/setup.d/20-model.sh) with its tokenizer rebuilt from the file, scores and samples.

use turnwise_train::policy::{Policy, PolicyTokenizer};

#[test]
fn policy_loads_a_gguf_file() {
    let gguf = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        gguf.exists(),
        "{} missing: run scripts/setup.d/20-model.sh",
        gguf.display()
    );
    let p = Policy::load(&gguf).unwrap();
    assert!(matches!(p.tokenizer, PolicyTokenizer::Hf(_)));
    assert_eq!(p.model.config.vocab_size, 49152);
    let ids = p
        .tokenizer
        .encode("Paris is the capital of France.")
        .unwrap();
    let back = p.tokenizer.decode(&ids).unwrap();
    assert_eq!(back, "Paris is the capital of France.");
    let lp = p.model.sequence_logprobs(&ids).unwrap();
    assert!(lp.iter().all(|x| x.is_finite() && *x <= 0.0));
}
