//! `sft.cache`: a run that loads a shared warm start ends exactly where a run that trains
//! its own does (weights bit for bit, metrics except timings), whatever its credit method;
//! a different seed trains its own; an edited entry is refused by name.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use serde_json::Value;
use turnwise_train::config::Config;
use turnwise_train::train::checkpoint;
use turnwise_train::train::run::Trainer;

fn tiny(extra: &[&str]) -> Config {
    common::config_with(
        &[
            "sft.enabled=true",
            "sft.episodes=4",
            "sft.steps=3",
            "sft.batch=4",
            "env.group_size=2",
            "env.tasks_per_step=2",
            "env.max_turns=4",
            "run.steps=2",
            "checkpoint.every=2",
            "eval.episodes=2",
            "eval.max_turns=3",
            "run.threads=1",
        ],
        extra,
    )
}

/// Trains `cfg` into `dir`; returns its metrics lines without timings and cache paths.
fn train(cfg: Config, dir: &Path) -> Vec<Value> {
    let mut t = Trainer::start(cfg, dir, |_, _| true).unwrap();
    t.run(&AtomicBool::new(false), |_| {}).unwrap();
    drop(t);
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.retain(|k, _| !k.ends_with("_s") && k != "sft_cache");
            if let Some(e) = o.get_mut("eval").and_then(Value::as_object_mut) {
                e.retain(|k, _| !k.ends_with("_per_s"));
            }
            v
        })
        .collect()
}

#[test]
fn a_shared_warm_start_gives_the_run_of_its_own_sft_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let with_cache = |extra: &[&str]| {
        let mut c = tiny(extra);
        c.sft.cache = cache.display().to_string();
        c
    };
    let own = train(tiny(&[]), &tmp.path().join("own"));
    let stored = train(with_cache(&[]), &tmp.path().join("stored"));
    let entries = || {
        std::fs::read_dir(&cache)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_dir())
            .count()
    };
    assert_eq!(entries(), 1, "the first run stores its warm start");
    let loaded = train(with_cache(&[]), &tmp.path().join("loaded"));
    assert_eq!(own, stored);
    assert_eq!(own, loaded);
    let last = |d: &str| common::weights(&checkpoint::dir_of(&tmp.path().join(d), 2));
    assert!(last("own") == last("loaded"), "weights differ");
    let line = std::fs::read_to_string(tmp.path().join("loaded/metrics.jsonl")).unwrap();
    assert!(line.lines().next().unwrap().contains("\"sft_cache\""));

    // Another credit method shares the entry; another seed trains and stores its own.
    let other = train(
        with_cache(&["credit.method=\"grpo\""]),
        &tmp.path().join("grpo"),
    );
    assert_eq!(other[0], own[0], "the same warm start");
    assert_eq!(entries(), 1);
    train(with_cache(&["run.seed=1"]), &tmp.path().join("seed1"));
    assert_eq!(entries(), 2);

    // An entry whose configuration was edited is refused, naming its file.
    for e in std::fs::read_dir(&cache).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            let k = p.join("key.toml");
            let text = std::fs::read_to_string(&k).unwrap();
            std::fs::write(&k, text.replace("seed = ", "seed = 9")).unwrap();
        }
    }
    let err = Trainer::start(with_cache(&[]), &tmp.path().join("edited"), |_, _| true)
        .err()
        .expect("an edited entry is refused");
    assert!(format!("{err:#}").contains("key.toml"), "{err:#}");
}
