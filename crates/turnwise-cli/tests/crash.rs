//! The crash test: `turnwise train` is killed with SIGKILL at random moments — at random
//! times, while a checkpoint or the warm start is being written, during SFT, while a resume
//! is starting — and resumed after every kill. Checked after each kill: every checkpoint
//! folder verifies against its manifest, at most one completed step is lost, temporaries do
//! not accumulate; and the next resume starts. At the end the run completes, and its
//! weights and per-step metrics equal those of a run never interrupted, bit for bit.
//!
//! `TURNWISE_CRASH_KILLS` (default 6) sets the number of kills, `TURNWISE_CRASH_SEED` the
//! seed; the run at scale: `TURNWISE_CRASH_KILLS=60 cargo test --release -p turnwise-cli
//! --test crash -- --nocapture`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use turnwise_train::train::checkpoint::{self, manifest};

const STEPS: u64 = 10;

fn sets() -> Vec<String> {
    [
        "model.d_model=16",
        "model.layers=1",
        "model.heads=2",
        "model.d_ff=32",
        "sft.steps=60",
        "sft.episodes=8",
        "env.max_turns=4",
        "env.group_size=2",
        "env.tasks_per_step=2",
        "eval.episodes=2",
        "eval.max_turns=4",
        "checkpoint.every=1",
        "checkpoint.keep=2",
        "run.threads=1",
        "run.time_budget_s=0",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("run.steps={STEPS}")])
    .collect()
}

/// A `turnwise train` process with its stderr lines on a channel.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

fn spawn(args: &[String]) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_turnwise"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    Proc {
        child,
        lines,
        seen: vec![],
    }
}

impl Proc {
    fn drain(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    /// Whether the process said it resumed or started over (it read the run's state).
    fn confirmed(&mut self) -> bool {
        self.drain();
        self.seen
            .iter()
            .any(|l| l.starts_with("resumed from") || l.contains("starting the run over"))
    }
}

fn fresh_args(dir: &Path) -> Vec<String> {
    let mut a = vec![
        "train".to_string(),
        "--out".into(),
        dir.display().to_string(),
    ];
    for s in sets() {
        a.extend(["--set".into(), s]);
    }
    a
}

fn resume_args(dir: &Path) -> Vec<String> {
    vec!["train".into(), "--resume".into(), dir.display().to_string()]
}

/// Completed RL steps according to `metrics.jsonl` (its step lines).
fn step_lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("phase").is_none() && v.get("step").is_some())
        .collect()
}

/// Temporaries present in the run folder.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![];
    for d in [
        dir.to_path_buf(),
        dir.join("checkpoints"),
        dir.join("rollouts"),
    ] {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(".tmp-") || n.starts_with(".trash-") || n.ends_with(".tmp") {
                v.push(e.path());
            }
        }
    }
    v
}

fn any_entry(dir: &Path, prefix: &str) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
}

/// Fields of a step line that depend on the training only (not on timing).
fn learning_fields(v: &serde_json::Value) -> Vec<String> {
    [
        "step",
        "return",
        "success",
        "turns",
        "tokens",
        "entropy",
        "kl",
        "clip_frac",
        "grad_norm",
        "lr",
        "loss",
        "skipped",
    ]
    .iter()
    .map(|k| v[*k].to_string())
    .collect()
}

#[derive(Debug, Default)]
struct Tally {
    kills: usize,
    by_mode: std::collections::BTreeMap<&'static str, usize>,
    mid_checkpoint_write: usize,
    before_first_checkpoint: usize,
    resumable: usize,
    corrupt: usize,
    max_lost: u64,
    lost_one: usize,
    runs_completed: usize,
    max_temporaries: usize,
}

#[test]
fn every_kill_is_resumable_without_corruption_or_more_than_one_lost_step() {
    let kills: usize = std::env::var("TURNWISE_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let seed: u64 = std::env::var("TURNWISE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();

    // The reference: one run never interrupted, timed.
    let reference = tmp.path().join("reference");
    let t0 = Instant::now();
    let mut p = spawn(&fresh_args(&reference));
    let mut first_ckpt = None;
    while p.child.try_wait().unwrap().is_none() {
        if first_ckpt.is_none() && checkpoint::dir_of(&reference, 0).exists() {
            first_ckpt = Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let total = t0.elapsed();
    p.drain();
    assert!(p.child.wait().unwrap().success(), "{:#?}", p.seen);
    let first_ckpt = first_ckpt.unwrap_or(total / 3);
    let ref_weights =
        std::fs::read(checkpoint::dir_of(&reference, STEPS).join("model.safetensors")).unwrap();
    let ref_steps: Vec<Vec<String>> = step_lines(&reference).iter().map(learning_fields).collect();
    assert_eq!(ref_steps.len() as u64, STEPS);

    let mut t = Tally::default();
    let mut round = 0;
    let mut dir = tmp.path().join("run-0");
    let mut unverified = 0usize; // kills whose state no process has resumed from yet
    while t.kills < kills {
        let fresh = !dir.join("config.toml").exists();
        let mut p = spawn(&if fresh {
            fresh_args(&dir)
        } else {
            resume_args(&dir)
        });
        let started = Instant::now();
        let has_ckpt = !checkpoint::list(&dir).unwrap().is_empty();
        let mode: &'static str = match rng.random_range(0..100) {
            0..15 => "early (SFT, start or resume start)",
            15..50 => "during a checkpoint write",
            50..60 if !has_ckpt => "during the warm-start save",
            _ => "random time",
        };
        let early = mode.starts_with("early");
        // Unless killing early, wait until a resume has read the state (this verifies the
        // previous kills were resumable).
        let deadline = started + total * 3;
        if !fresh && !early {
            while !p.confirmed() && p.child.try_wait().unwrap().is_none() {
                assert!(
                    Instant::now() < deadline,
                    "resume did not start: {:#?}",
                    p.seen
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let delay = match mode {
            _ if early => first_ckpt.mul_f64(rng.random_range(0.0..1.0)),
            "random time" => total.mul_f64(rng.random_range(0.0..0.8)),
            _ => total * 2,
        };
        let kill_at = Instant::now() + delay;
        let ckpts = dir.join("checkpoints");
        let finished = loop {
            if p.child.try_wait().unwrap().is_some() {
                break true;
            }
            let now = Instant::now();
            let trigger = match mode {
                "during a checkpoint write" => any_entry(&ckpts, ".tmp-step-"),
                "during the warm-start save" => any_entry(&dir, ".tmp-warm_start"),
                _ => false,
            };
            if trigger || now >= kill_at {
                break false;
            }
            std::thread::sleep(Duration::from_micros(300));
        };
        if p.confirmed() {
            t.resumable += unverified;
            unverified = 0;
        }
        if finished {
            p.drain();
            let ok = p.child.wait().unwrap().success();
            assert!(ok, "train exited with an error: {:#?}", p.seen);
            // The run is complete: compare with the reference, then start another round.
            check_complete(&dir, &ref_weights, &ref_steps);
            t.runs_completed += 1;
            round += 1;
            dir = tmp.path().join(format!("run-{round}"));
            continue;
        }
        p.child.kill().unwrap();
        p.child.wait().unwrap();
        p.drain();
        t.kills += 1;
        *t.by_mode.entry(mode).or_default() += 1;
        if any_entry(&ckpts, ".tmp-step-") {
            t.mid_checkpoint_write += 1;
        }
        let completed = step_lines(&dir)
            .iter()
            .filter_map(|v| v["step"].as_u64())
            .max()
            .unwrap_or(0);
        for d in checkpoint::list(&dir).unwrap() {
            match manifest::verify(&d) {
                Ok(m) if d == checkpoint::dir_of(&dir, m.step) => {}
                other => {
                    t.corrupt += 1;
                    eprintln!("corrupt checkpoint {}: {other:?}", d.display());
                }
            }
        }
        let scan = checkpoint::scan(&dir).unwrap();
        match scan.intact {
            Some((_, step)) => {
                let lost = completed.saturating_sub(step);
                t.max_lost = t.max_lost.max(lost);
                t.lost_one += usize::from(lost == 1);
            }
            None => {
                t.before_first_checkpoint += 1;
                assert_eq!(completed, 0, "steps completed but no checkpoint");
            }
        }
        t.max_temporaries = t.max_temporaries.max(temporaries(&dir).len());
        if dir.join("config.toml").exists() {
            unverified += 1;
        } else {
            // Killed before the run existed: nothing to resume, a fresh start follows.
            t.resumable += 1;
        }
    }
    // Finish the last run without kills.
    let fresh = !dir.join("config.toml").exists();
    let mut p = spawn(&if fresh {
        fresh_args(&dir)
    } else {
        resume_args(&dir)
    });
    let ok = p.child.wait().unwrap().success();
    p.drain();
    assert!(ok, "final run failed: {:#?}", p.seen);
    if p.confirmed() {
        t.resumable += unverified;
    }
    check_complete(&dir, &ref_weights, &ref_steps);
    t.runs_completed += 1;
    eprintln!("crash test (seed {seed}): {t:#?}");
    assert_eq!(t.corrupt, 0);
    assert_eq!(t.resumable, t.kills, "{t:#?}");
    assert!(t.max_lost <= 1, "{t:#?}");
    assert!(t.max_temporaries <= 3, "{t:#?}");
}

/// A finished run: same final weights and per-step learning metrics as the reference,
/// each step once, and no temporaries left.
fn check_complete(dir: &Path, ref_weights: &[u8], ref_steps: &[Vec<String>]) {
    let w = std::fs::read(checkpoint::dir_of(dir, STEPS).join("model.safetensors")).unwrap();
    assert!(
        w == ref_weights,
        "{}: final weights differ from the uninterrupted run",
        dir.display()
    );
    let steps: Vec<Vec<String>> = step_lines(dir).iter().map(learning_fields).collect();
    assert_eq!(steps, ref_steps, "{}: step metrics differ", dir.display());
    assert!(temporaries(dir).is_empty(), "{:?}", temporaries(dir));
}
