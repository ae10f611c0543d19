//! The critic: its value loss falls on a fixed batch, and it is checkpointed with the run
//! (resuming gives the same critic and policy bit for bit as running straight through).

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use turnwise_train::train::checkpoint::dir_of;
use turnwise_train::train::run::Trainer;

fn cfg(method: &str, steps: u64) -> turnwise_train::config::Config {
    common::config_with(
        &[
            "env.group_size=2",
            "env.tasks_per_step=2",
            "env.max_turns=5",
            "eval.episodes=2",
            "eval.max_turns=3",
            "checkpoint.every=2",
            "checkpoint.keep=5",
            "critic.d_model=16",
            "critic.layers=1",
            "critic.heads=2",
            "critic.d_ff=32",
            "run.threads=1",
            &format!("credit.method=\"{method}\""),
            &format!("run.steps={steps}"),
        ],
        &[],
    )
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn critics_resume_bit_for_bit() {
    tch::set_num_threads(1);
    let stop = AtomicBool::new(false);
    for method in ["turn_level_gae", "archer", "hiper_hae"] {
        let tmp = std::env::temp_dir().join(format!("tw-critic-{method}-{}", std::process::id()));
        let (a, b) = (tmp.join("a"), tmp.join("b"));
        let mut t = Trainer::start(cfg(method, 4), &a, |_, _| true).unwrap();
        t.run(&stop, |m| {
            assert!(m.value_loss.is_some_and(f64::is_finite), "{m:?}")
        })
        .unwrap();
        let mut t = Trainer::start(cfg(method, 2), &b, |_, _| true).unwrap();
        t.run(&stop, |_| {}).unwrap();
        drop(t);
        let mut t = Trainer::resume(&b, &["run.steps=4".into()]).unwrap();
        t.run(&stop, |_| {}).unwrap();
        let (ca, cb) = (dir_of(&a, 4), dir_of(&b, 4));
        for f in [
            "critic.safetensors",
            "model.safetensors",
            "critic_state.json",
        ] {
            assert!(
                read(&ca.join(f)) == read(&cb.join(f)),
                "{method}: {f} differs after resume"
            );
        }
        assert!(
            read(&dir_of(&a, 2).join("critic.safetensors")) != read(&ca.join("critic.safetensors")),
            "{method}: the critic did not learn"
        );
        std::fs::remove_dir_all(&tmp).ok();
    }
}

#[test]
fn critic_warmup_updates_only_the_critic() {
    tch::set_num_threads(1);
    let stop = AtomicBool::new(false);
    let tmp = std::env::temp_dir().join(format!("tw-critic-warmup-{}", std::process::id()));
    let mut c = cfg("turn_level_gae", 3);
    c.critic.warmup_steps = 2;
    c.checkpoint.every = 1;
    let mut flags = vec![];
    let mut t = Trainer::start(c, &tmp, |_, _| true).unwrap();
    t.run(&stop, |m| flags.push(m.critic_warmup)).unwrap();
    assert_eq!(flags, [Some(true), Some(true), None]);
    let file = |step, f: &str| read(&dir_of(&tmp, step).join(f));
    assert!(
        file(1, "model.safetensors") == file(2, "model.safetensors"),
        "the policy changed during the warm-up"
    );
    assert!(
        file(2, "model.safetensors") != file(3, "model.safetensors"),
        "the policy did not learn after the warm-up"
    );
    assert!(
        file(1, "critic.safetensors") != file(2, "critic.safetensors"),
        "the critic did not learn during the warm-up"
    );
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn critic_warmup_without_a_critic_is_refused_naming_the_key() {
    let tmp = std::env::temp_dir().join(format!("tw-critic-warmup-grpo-{}", std::process::id()));
    let mut c = cfg("grpo", 3);
    c.critic.warmup_steps = 2;
    let e = match Trainer::start(c, &tmp, |_, _| true) {
        Ok(_) => panic!("a warm-up without a critic was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        e.contains("critic.warmup_steps") && e.contains("turn_level_gae"),
        "{e}"
    );
    assert!(!tmp.join("metrics.jsonl").exists());
    std::fs::remove_dir_all(&tmp).ok();
}
