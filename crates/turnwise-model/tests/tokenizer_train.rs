//! Byte-level BPE training: exact round trips, special tokens, determinism, saved folders,
//! incremental decoding and stop strings (crates/turnwise-model/src/tokenizer/).

use std::path::PathBuf;

use turnwise_model::tokenizer::{
    Message, PreTokenizerKind, StopStrings, Tokenizer, TokenizerError, TrainOptions,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tokenizer")
        .join(name)
}

fn corpus() -> Vec<String> {
    let text = std::fs::read_to_string(fixture("maze_corpus.txt")).unwrap();
    text.split_inclusive('\n').map(String::from).collect()
}

fn maze_tokenizer(kind: PreTokenizerKind, vocab: usize) -> Tokenizer {
    let mut opts = TrainOptions::new(vocab);
    opts.pre_tokenizer = kind;
    Tokenizer::train_from_texts(&corpus(), &opts).unwrap()
}

const KINDS: [PreTokenizerKind; 2] = [PreTokenizerKind::Qwen2, PreTokenizerKind::ByteLevel];

/// Strings the corpus never saw: accents (composed and decomposed), CJK, emoji, newlines,
/// tabs, runs of spaces, and special tokens inside text.
const SAMPLES: [&str; 7] = [
    "Your position is (1, 1 0). There is a wall to your left.\n",
    "Ünïcödé café — e\u{301}te\u{301} naïve façade",
    "迷路の中にいます。壁が左にあります。 🧭🧱",
    "\n\n  leading spaces\ttab\r\nwindows line\n",
    "<|im_start|>user\nmove up<|im_end|>\n<|im_start|>assistant\n",
    "",
    "<|im_end|><|im_end|>x<|endoftext|>",
];

#[test]
fn round_trip_is_exact_for_unseen_text() {
    for kind in KINDS {
        let tok = maze_tokenizer(kind, 400);
        for s in SAMPLES {
            let ids = tok.encode(s).unwrap();
            assert_eq!(tok.decode(&ids).unwrap(), s, "{kind:?} {s:?}");
            assert!(ids.iter().all(|&i| (i as usize) < tok.vocab_size()));
        }
    }
}

#[test]
fn special_tokens_are_single_ids_and_first() {
    let mut opts = TrainOptions::new(350);
    opts.special_tokens.push("<tool>".into());
    let tok = Tokenizer::train_from_texts(&corpus(), &opts).unwrap();
    for (i, s) in opts.special_tokens.iter().enumerate() {
        assert_eq!(tok.token_to_id(s), Some(i as u32));
        assert_eq!(tok.encode(s).unwrap(), vec![i as u32]);
        assert_eq!(tok.id_to_token(i as u32).as_deref(), Some(s.as_str()));
    }
    let sp = tok.special();
    assert_eq!(sp.eos, tok.token_to_id("<|im_end|>"));
    assert_eq!(sp.pad, tok.token_to_id("<|endoftext|>"));
    assert_eq!(sp.bos, None);
    assert_eq!(sp.stop_ids, vec![sp.eos.unwrap()]);
    // skip_special_tokens drops them, keeping the rest exactly.
    let ids = tok.encode("<|im_start|>user\nmove up<|im_end|>").unwrap();
    assert_eq!(tok.decode_with(&ids, true).unwrap(), "user\nmove up");
}

#[test]
fn vocabulary_is_bytes_plus_frequent_words() {
    let tok = maze_tokenizer(PreTokenizerKind::Qwen2, 300);
    assert_eq!(tok.vocab_size(), 300);
    // The maze corpus has few word types: merges run out (no pair left twice) before 400.
    let saturated = maze_tokenizer(PreTokenizerKind::Qwen2, 400).vocab_size();
    assert!(saturated > 300 && saturated < 400, "{saturated}");
    // Every byte is a token, so nothing is ever unknown.
    for b in 0u8..=255 {
        let s = String::from_utf8_lossy(&[b]).into_owned();
        if b < 128 {
            assert_eq!(tok.encode(&s).unwrap().len(), 1, "byte {b}");
        }
    }
    // The most frequent corpus words become single tokens; digits stay single (Qwen2 regex).
    for w in [" wall", " position", "move"] {
        assert_eq!(tok.encode(w).unwrap().len(), 1, "{w:?}");
    }
    assert_eq!(tok.encode("10").unwrap().len(), 2);
    let byte_level = maze_tokenizer(PreTokenizerKind::ByteLevel, 400);
    assert_eq!(byte_level.encode(" wall").unwrap().len(), 1);
}

#[test]
fn training_is_deterministic() {
    for kind in KINDS {
        let a = maze_tokenizer(kind, 290).inner().to_string(false).unwrap();
        let b = maze_tokenizer(kind, 290).inner().to_string(false).unwrap();
        assert_eq!(a, b, "{kind:?}");
    }
    // A different vocabulary size gives a different tokenizer (the test can fail).
    let c = maze_tokenizer(PreTokenizerKind::Qwen2, 291)
        .inner()
        .to_string(false)
        .unwrap();
    assert_ne!(
        maze_tokenizer(PreTokenizerKind::Qwen2, 290)
            .inner()
            .to_string(false)
            .unwrap(),
        c
    );
}

#[test]
fn saved_folder_loads_back_identically() {
    let tok = maze_tokenizer(PreTokenizerKind::Qwen2, 400);
    let dir = tempfile::tempdir().unwrap();
    tok.save_dir(dir.path()).unwrap();
    let back = Tokenizer::from_dir(dir.path()).unwrap();
    assert_eq!(back.special(), tok.special());
    assert_eq!(back.vocab_size(), tok.vocab_size());
    for s in SAMPLES {
        assert_eq!(back.encode(s).unwrap(), tok.encode(s).unwrap());
    }
    let msgs = [
        Message::new("user", "Your position is (3, 4)."),
        Message::new("assistant", "move up"),
    ];
    let chat = back.apply_chat_template(&msgs, true).unwrap();
    assert_eq!(
        chat,
        "<|im_start|>user\nYour position is (3, 4).<|im_end|>\n<|im_start|>assistant\nmove up<|im_end|>\n<|im_start|>assistant\n"
    );
    let ids = back.encode(&chat).unwrap();
    assert_eq!(back.decode(&ids).unwrap(), chat);
    assert_eq!(
        ids.iter()
            .filter(|&&i| Some(i) == back.special().eos)
            .count(),
        2
    );
    // No temporary files are left behind.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["tokenizer.json", "tokenizer_config.json"]);
}

#[test]
fn bad_options_and_corpus_are_clear_errors() {
    let msg = |r: Result<Tokenizer, TokenizerError>| r.unwrap_err().to_string();
    let small = msg(Tokenizer::train_from_texts(
        &corpus(),
        &TrainOptions::new(200),
    ));
    assert!(
        small.contains("vocab size 200 is below 256 byte tokens + 3 special tokens = 259"),
        "{small}"
    );
    let mut dup = TrainOptions::new(300);
    dup.special_tokens.push("<|im_end|>".into());
    assert!(msg(Tokenizer::train_from_texts(&corpus(), &dup)).contains("given twice"));
    assert!(
        msg(Tokenizer::train_from_texts(&[""], &TrainOptions::new(300)))
            .contains("corpus is empty")
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, b"ok line\nsecond\nbad \xff byte\n").unwrap();
    let e = msg(Tokenizer::train_from_file(&bad, &TrainOptions::new(300)));
    assert!(
        e.contains("bad.txt") && e.contains("line 3: invalid UTF-8"),
        "{e}"
    );
    let missing = msg(Tokenizer::train_from_file(
        &dir.path().join("nope.txt"),
        &TrainOptions::new(300),
    ));
    assert!(missing.contains("nope.txt"), "{missing}");
    assert!("qwen3"
        .parse::<PreTokenizerKind>()
        .unwrap_err()
        .contains("qwen2, byte-level"));
}

#[test]
fn incremental_decoding_equals_full_decoding() {
    for kind in KINDS {
        // A tiny vocabulary splits multi-byte characters over several tokens.
        let tok = maze_tokenizer(kind, 300);
        for s in SAMPLES {
            let ids = tok.encode(s).unwrap();
            let mut dec = tok.incremental_decoder(false);
            let mut chunks = String::new();
            for &id in &ids {
                let chunk = dec.push(&tok, id).unwrap().to_string();
                assert!(
                    !chunk.contains('\u{FFFD}'),
                    "{kind:?} {s:?}: partial character emitted"
                );
                chunks.push_str(&chunk);
            }
            chunks.push_str(dec.finish(&tok).unwrap());
            assert_eq!(chunks, s);
            assert_eq!(dec.text(), tok.decode(&ids).unwrap());
            assert_eq!(dec.ids(), ids.as_slice());
        }
    }
}

#[test]
fn stop_strings_found_across_token_boundaries() {
    let tok = maze_tokenizer(PreTokenizerKind::Qwen2, 300);
    let text = "I think: move up\nObservation: wall. 壁\nObservation: again";
    let stops = StopStrings::new(["\nObservation:", "壁壁", ""]);
    let expected = text.find("\nObservation:").unwrap();
    let mut dec = tok.incremental_decoder(false);
    let mut found = None;
    for id in tok.encode(text).unwrap() {
        let before = dec.text().len();
        dec.push(&tok, id).unwrap();
        if let Some(p) = stops.find(dec.text(), before) {
            found = Some(p);
            break;
        }
    }
    assert_eq!(found, Some(expected));
    // Stopped at the first token that completes the stop string, not later.
    assert!(dec.text().len() < expected + "\nObservation:".len() + 4);
    assert!(StopStrings::new(Vec::<String>::new())
        .find(text, 0)
        .is_none());
    // A multi-byte stop string whose search window starts inside a character.
    let p = text.find('壁').unwrap();
    assert_eq!(StopStrings::new(["壁"]).find(text, p + 3), Some(p));
}
