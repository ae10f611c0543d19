//! Loading Hugging Face tokenizer folders, checked against Python `tokenizers` /
//! `transformers` (tests/fixtures/tokenizer/gen_tokenizer_cases.py → tokenizer_cases.json):
//! `maze300/` was trained by `turnwise tokenizer train`, `llama_style/` written by Python.

use std::path::{Path, PathBuf};

use serde_json::Value;
use turnwise_model::tokenizer::{Message, Tokenizer, TrainOptions};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tokenizer")
        .join(name)
}

fn cases() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("tokenizer_cases.json")).unwrap())
        .unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn opt(v: &Value) -> Option<u32> {
    v.as_u64().map(|x| x as u32)
}

#[test]
fn trained_folder_matches_python_tokenizers_and_transformers() {
    let c = &cases()["maze300"];
    let tok = Tokenizer::from_dir(fixture("maze300")).unwrap();
    for case in c["encode"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(tok.encode(text).unwrap(), ids(&case["ids"]), "{text:?}");
        assert_eq!(tok.decode(&ids(&case["ids"])).unwrap(), text);
    }
    let sp = &c["special"];
    assert_eq!(tok.special().eos, opt(&sp["eos"]));
    assert_eq!(tok.special().pad, opt(&sp["pad"]));
    assert_eq!(tok.special().bos, opt(&sp["bos"]));
    assert_eq!(tok.vocab_size() as u64, sp["vocab"].as_u64().unwrap());
    let msgs: Vec<Message> = serde_json::from_value(c["chat"].clone()).unwrap();
    assert_eq!(
        tok.apply_chat_template(&msgs, true).unwrap(),
        c["chat_rendered"].as_str().unwrap()
    );
}

#[test]
fn retraining_reproduces_the_committed_folder() {
    // The fixture came from a separate `turnwise` process: same corpus and options, same bytes.
    let opts = TrainOptions::new(300);
    let tok = Tokenizer::train_from_file(&fixture("maze_corpus.txt"), &opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    tok.save_dir(dir.path()).unwrap();
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        let a = std::fs::read(dir.path().join(f)).unwrap();
        let b = std::fs::read(fixture("maze300").join(f)).unwrap();
        assert!(a == b, "{f} differs from the committed fixture");
    }
}

#[test]
fn sentencepiece_style_folder_matches_python() {
    let c = &cases()["llama_style"];
    let tok = Tokenizer::from_dir(fixture("llama_style")).unwrap();
    for case in c["encode"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let plain = ids(&case["ids"]);
        assert_eq!(tok.encode(text).unwrap(), plain, "{text:?}");
        assert_eq!(
            tok.encode_with(text, true).unwrap(),
            ids(&case["ids_with_special"])
        );
        let decoded = tok.decode(&plain).unwrap();
        assert_eq!(decoded, case["decoded"].as_str().unwrap());
        // Streaming decode agrees with decoding everything at once (Metaspace + byte fallback).
        let mut dec = tok.incremental_decoder(false);
        let mut streamed = String::new();
        for &id in &plain {
            streamed.push_str(dec.push(&tok, id).unwrap());
        }
        streamed.push_str(dec.finish(&tok).unwrap());
        assert_eq!(streamed, decoded, "{text:?}");
    }
    let sp = &c["special"];
    let s = tok.special();
    assert_eq!(
        (s.bos, s.eos, s.unk),
        (opt(&sp["bos"]), opt(&sp["eos"]), opt(&sp["unk"]))
    );
    assert_eq!(s.stop_ids, ids(&sp["stop_ids"]));
    assert_eq!(s.bos_token.as_deref(), Some("<s>"));
    assert_eq!(s.pad, None);
    assert_eq!(tok.vocab_size() as u64, sp["vocab"].as_u64().unwrap());
    assert_eq!(tok.token_to_id("<0x41>"), Some(4 + 0x41));
    assert_eq!(tok.id_to_token(3).as_deref(), Some("<|eot|>"));
    assert!(tok.chat_template().is_none());
    assert!(tok
        .apply_chat_template(&[], false)
        .unwrap_err()
        .to_string()
        .contains("no chat_template"));
}

fn copy_folder(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn special_tokens_fall_back_to_model_config_ids() {
    let dir = tempfile::tempdir().unwrap();
    copy_folder(&fixture("llama_style"), dir.path());
    std::fs::write(dir.path().join("tokenizer_config.json"), "{}").unwrap();
    let tok = Tokenizer::from_dir(dir.path()).unwrap();
    let s = tok.special();
    assert_eq!((s.bos, s.eos, s.pad), (Some(1), Some(2), None));
    assert_eq!(s.bos_token.as_deref(), Some("<s>"));
    assert_eq!(s.eos_token.as_deref(), Some("</s>"));
    assert_eq!(s.stop_ids, vec![2, 3]);
}

#[test]
fn bad_folders_name_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let err = |d: &Path| Tokenizer::from_dir(d).unwrap_err().to_string();
    assert!(err(dir.path()).contains("tokenizer.json"));
    copy_folder(&fixture("llama_style"), dir.path());
    let cfg = dir.path().join("tokenizer_config.json");
    std::fs::write(&cfg, "{\n  \"eos_token\": \"<nope>\"\n}").unwrap();
    let e = err(dir.path());
    assert!(
        e.contains(
            "tokenizer_config.json: field `eos_token`: token \"<nope>\" is not in the vocabulary"
        ),
        "{e}"
    );
    std::fs::write(&cfg, "{\n  \"eos_token\": \"</s>\",\n}").unwrap();
    let e = err(dir.path());
    assert!(
        e.contains("tokenizer_config.json") && e.contains("line 3"),
        "{e}"
    );
    std::fs::write(&cfg, "{}").unwrap();
    std::fs::write(
        dir.path().join("generation_config.json"),
        "{\"eos_token_id\": [2, -1]}",
    )
    .unwrap();
    let e = err(dir.path());
    assert!(
        e.contains("generation_config.json: field `eos_token_id[1]`"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("tokenizer.json"),
        "{\"version\": \"1.0\", \"model\": 3}",
    )
    .unwrap();
    let e = err(dir.path());
    assert!(e.contains("tokenizer.json") && e.contains("line 1"), "{e}");
}
