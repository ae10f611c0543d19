//! `turnwise train` as a hostile user would run it: into a folder holding a run, twice at
//! once, stopped by SIGTERM, resumed with changed keys, diverging, with bad values.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{turnwise, TINY};

fn cmd(args: &[&str], extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_turnwise"));
    c.args(args);
    for s in TINY.iter().chain(extra) {
        c.args(["--set", s]);
    }
    c
}

fn train(out: &Path, extra: &[&str]) -> Output {
    cmd(&["train", "--out", out.to_str().unwrap()], extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn wait_for(p: &Path, child: &mut Child) {
    let t0 = Instant::now();
    while !p.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "exited before {}",
            p.display()
        );
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no {}",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn ckpt(run: &Path, step: u64) -> PathBuf {
    run.join(format!("checkpoints/step-{step:06}"))
}

#[test]
fn a_folder_holding_a_run_is_refused_and_force_moves_it_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let o = train(&run, &["run.steps=1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let metrics = std::fs::read(run.join("metrics.jsonl")).unwrap();
    // A typo'd fresh start into the finished run: refused before any work.
    let o = train(&run, &["run.steps=1", "env.name=lmrl/maze-po"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("already holds a run") && e.contains("--resume") && e.contains("--force"),
        "{e}"
    );
    assert_eq!(std::fs::read(run.join("metrics.jsonl")).unwrap(), metrics);
    // --force moves it aside, never deletes it.
    let o = cmd(
        &["train", "--out", run.to_str().unwrap(), "--force"],
        &["run.steps=1"],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let old = tmp.path().join("run.old-1");
    assert_eq!(std::fs::read(old.join("metrics.jsonl")).unwrap(), metrics);
    assert!(ckpt(&old, 1).exists() && ckpt(&run, 1).exists());
    // --force with --resume is refused by the argument parser.
    let o = turnwise(&["train", "--resume", run.to_str().unwrap(), "--force"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn sigterm_saves_and_exits_130_a_second_trainer_is_locked_out_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut child = cmd(
        &["train", "--out", run.to_str().unwrap()],
        &["run.steps=100000", "checkpoint.every=0"],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for(&ckpt(&run, 0), &mut child);
    // While it runs: a second trainer on the folder exits at once.
    let o = turnwise(&["train", "--resume", run.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("in use by another trainer"),
        "{}",
        stderr(&o)
    );
    let o = train(&run, &[]);
    assert!(
        stderr(&o).contains("in use by another trainer")
            || stderr(&o).contains("already holds a run")
    );
    // SIGTERM (what `timeout` and schedulers send): finish the step, save, exit 130.
    std::thread::sleep(Duration::from_millis(300));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{e}");
    assert!(
        e.contains(&format!("turnwise train --resume {}", run.display())),
        "{e}"
    );
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["phase"], "interrupted");
    let step = last["step"].as_u64().unwrap();
    assert!(ckpt(&run, step).exists(), "no checkpoint of step {step}");
    // Resume with new limits: applied, recorded and persisted.
    let target = step + 2;
    let o = turnwise(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--set",
        &format!("run.steps={target}"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("changed on resume: run.steps: 100000 → {target}")),
        "{}",
        stderr(&o)
    );
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(cfg.contains(&format!("steps = {target}")), "{cfg}");
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(text.contains("\"phase\":\"resume\"") && text.contains("\"phase\":\"final\""));
    let steps: Vec<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("phase").is_none())
        .filter_map(|v| v["step"].as_u64())
        .collect();
    assert_eq!(steps, (1..=target).collect::<Vec<_>>());
}

#[test]
fn resume_refuses_immutable_keys_and_foreign_out_and_uses_a_given_config() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let r = run.to_str().unwrap();
    let o = train(&run, &["run.steps=1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = turnwise(&[
        "train",
        "--resume",
        r,
        "--set",
        "model.d_model=32",
        "--set",
        "env.name=lmrl/maze-po",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("`model.d_model` cannot change on --resume (16 → 32)")
            && e.contains("`env.name`"),
        "{e}"
    );
    // A context beyond the checkpoint's positions.
    let o = turnwise(&["train", "--resume", r, "--set", "model.max_context=4096"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("max_position_embeddings (128)"),
        "{}",
        stderr(&o)
    );
    let o = turnwise(&[
        "train",
        "--resume",
        r,
        "--out",
        tmp.path().join("elsewhere").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("stays in its folder"), "{}", stderr(&o));
    // --config: the run's configuration with two more steps.
    let cfg = std::fs::read_to_string(run.join("config.toml"))
        .unwrap()
        .replace("steps = 1\n", "steps = 3\n");
    let file = tmp.path().join("more.toml");
    std::fs::write(&file, cfg).unwrap();
    let o = turnwise(&["train", "--resume", r, "--config", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(ckpt(&run, 3).exists());
    assert!(stderr(&o).contains("run.steps: 1 → 3"), "{}", stderr(&o));
}

#[test]
fn bad_values_are_refused_before_any_work_with_key_and_range() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("never");
    for (set, key, range) in [
        ("sft.noise=2", "sft.noise", "[0, 1]"),
        ("optim.lr=nan", "optim.lr", "≥ 0"),
        ("sft.lr=-1", "sft.lr", "≥ 0"),
        ("loss.clip_low=-0.2", "loss.clip_low", "[0, 1)"),
        ("sft.batch=0", "sft.batch", "1..="),
        ("sampling.temperature=inf", "sampling.temperature", "> 0"),
        ("eval.episodes=0", "eval.episodes", "at least 1"),
        ("env.group_size=0", "env.group_size", "1..="),
    ] {
        let o = train(&run, &[set]);
        assert_eq!(o.status.code(), Some(2), "{set}");
        let e = stderr(&o);
        assert!(e.contains(key) && e.contains(range), "{set}: {e}");
        assert!(!run.exists(), "{set}: the run folder was created");
    }
    // Measured against the tokenizer: an observation plus an action must fit.
    let o = train(
        &run,
        &[
            "model.max_context=8",
            "sampling.max_action_tokens=6",
            "sft.enabled=false",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("key `model.max_context`") && stderr(&o).contains("must be at least"),
        "{}",
        stderr(&o)
    );
    assert!(!run.exists(), "a refused start left its folder");
    // Memory that no machine here has.
    let big = tmp.path().join("big");
    let o = train(&big, &["env.group_size=10000000", "sft.enabled=false"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!big.exists(), "a refused start left its folder");
    assert!(
        stderr(&o).contains("GiB") && stderr(&o).contains("env.group_size"),
        "{}",
        stderr(&o)
    );
    let o = turnwise(&["eval", "--run", run.to_str().unwrap(), "--episodes", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn divergence_is_skipped_whole_and_never_saved_and_eval_refuses_non_finite_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // lr 1e39 overflows every updated weight to infinity: each step is undone.
    let o = train(
        &run,
        &[
            "optim.lr=1e39",
            "run.steps=20",
            "run.max_bad_steps=3",
            "sft.enabled=false",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("3 consecutive steps") && e.contains("last finite weights"),
        "{e}"
    );
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let skipped: Vec<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["skipped"].as_u64())
        .collect();
    assert_eq!(skipped.len(), 3);
    assert!(skipped.iter().all(|&s| s > 0));
    // The kept checkpoint holds the initial weights (every step was undone), finite.
    let w0 = std::fs::read(ckpt(&run, 0).join("model.safetensors")).unwrap();
    let w3 = std::fs::read(ckpt(&run, 3).join("model.safetensors")).unwrap();
    assert!(w0 == w3, "a skipped step changed the weights");
    let o = turnwise(&["eval", "--run", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["threads"], 1, "run.threads applies in eval");
    // A policy folder with NaN weights: eval is an error, not a score.
    let nan = tmp.path().join("nan");
    let p = turnwise_train::policy::Policy::load(&ckpt(&run, 3)).unwrap();
    tch::no_grad(|| {
        let _ = p.parameters()[0].fill_(f64::NAN);
    });
    p.save(&nan).unwrap();
    let o = turnwise(&[
        "eval",
        "--run",
        run.to_str().unwrap(),
        "--policy",
        nan.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not finite"), "{}", stderr(&o));
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

#[test]
fn ctrl_c_during_sft_exits_130_and_resume_starts_over_a_second_one_exits_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let r = run.to_str().unwrap();
    let mut child = cmd(&["train", "--out", r], &["sft.steps=100000", "run.steps=1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&run.join("config.toml"), &mut child);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{e}");
    assert!(
        e.contains("interrupted during SFT") && e.contains(&format!("--resume {r}")),
        "{e}"
    );
    // sft.* cannot change on resume (start over with --force for another warm start).
    let o = turnwise(&["train", "--resume", r, "--set", "sft.steps=5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`sft.steps`"), "{}", stderr(&o));
    // A second stop request exits at once, without waiting for the step in flight (a
    // step of 2,000 episodes takes seconds).
    let mut child = cmd(
        &["train", "--out", r, "--force"],
        &["env.group_size=2000", "sft.enabled=false"],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for(&ckpt(&run, 0), &mut child);
    signal(&child, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(50));
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{e}");
    assert!(e.contains("second stop request"), "{e}");
    assert!(tmp.path().join("run.old-1/config.toml").exists());
}
