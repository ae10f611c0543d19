//! `turnwise compare` end to end on a tiny budget: a 2 methods × 2 seeds grid is
//! interrupted (SIGINT) while its second run is under way, then the same command
//! continues it: the finished run is reused, the interrupted one resumes from its
//! checkpoint, the rest run; the summary pairs every method with the baseline. A third
//! invocation with a different budget is refused (a compare never mixes runs); `turnwise
//! report` then writes a self-contained page.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TINY: &[&str] = &[
    "sft.steps=10",
    "sft.episodes=10",
    "model.d_model=16",
    "model.layers=1",
    "model.heads=2",
    "model.d_ff=32",
    "env.group_size=4",
    "env.tasks_per_step=2",
    "env.max_turns=8",
    "eval.episodes=4",
    "eval.max_turns=10",
    "eval.every=6",
    "checkpoint.every=2",
    "run.steps=12",
];

fn args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "compare",
        "--methods",
        "grpo,trloo",
        "--seeds",
        "2",
        "--jobs",
        "1",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(out.display().to_string());
    for s in TINY.iter().chain(extra) {
        a.push("--set".into());
        a.push(s.to_string());
    }
    a
}

fn manifest(dir: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).ok()?).ok()
}

fn has_checkpoint(run: &Path) -> bool {
    std::fs::read_dir(run.join("checkpoints"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with("step-"))
        })
        .unwrap_or(false)
}

fn steps_logged(run: &Path) -> Vec<u64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("phase").is_none())
        .filter_map(|v| v["step"].as_u64())
        .collect()
}

#[test]
fn compare_is_interrupted_then_continues_and_never_mixes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let exe = env!("CARGO_BIN_EXE_turnwise");
    let mut child = Command::new(exe)
        .args(args(&out, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first run finished and the second has a checkpoint, then Ctrl-C.
    let second = out.join("runs/lmrl-maze-fo/grpo/seed-1");
    let t0 = Instant::now();
    loop {
        let first_done = manifest(&out).is_some_and(|m| m["cells"][0]["state"] == "done");
        if first_done && has_checkpoint(&second) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "compare ended before it could be interrupted"
        );
        assert!(t0.elapsed() < Duration::from_secs(600), "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let res = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(130), "{err}");
    assert!(err.contains("run the same command again"), "{err}");
    let m = manifest(&out).unwrap();
    let states: Vec<&str> = m["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["done", "pending", "pending", "pending"], "{err}");
    let first = out.join("runs/lmrl-maze-fo/grpo/seed-0/metrics.jsonl");
    let first_before = std::fs::read(&first).unwrap();
    let interrupted_at = steps_logged(&second).len();
    assert!(interrupted_at < 12, "the second run was not interrupted");

    // The same command continues.
    let res = Command::new(exe).args(args(&out, &[])).output().unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{err}");
    assert!(
        err.contains("1 finished") && err.contains("3 to run"),
        "{err}"
    );
    let m = manifest(&out).unwrap();
    for c in m["cells"].as_array().unwrap() {
        assert_eq!(c["state"], "done", "{c}");
        assert!(c["cpu_s"].as_f64().is_some_and(|s| s > 0.0), "{c}");
    }
    assert_eq!(m["cells"][0]["attempts"], 1);
    assert_eq!(m["cells"][1]["attempts"], 2);
    assert_eq!(
        std::fs::read(&first).unwrap(),
        first_before,
        "finished run was redone"
    );
    // Resumed, not restarted: every step once, in order.
    assert_eq!(steps_logged(&second), (1..=12).collect::<Vec<u64>>());

    let sum: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let groups = sum["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    for g in groups {
        assert_eq!(g["seeds"], serde_json::json!([0, 1]));
        assert_eq!(g["status"], serde_json::json!(["finished", "finished"]));
        assert!(g["final_score"]["ci"]["lo"].is_number(), "{g}");
        assert!(g["auc"]["mean"].is_number(), "{g}");
    }
    assert_eq!(groups[1]["method"], "trloo");
    assert_eq!(groups[1]["vs_baseline"]["pairs"], 2);
    assert_eq!(groups[1]["vs_baseline"]["p_min"], 0.5);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script"));

    // A different budget into the same folder is refused, naming the key.
    let res = Command::new(exe)
        .args(args(&out, &["run.steps=13"]))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("run.steps") && err.contains("never mixes"),
        "{err}"
    );

    // `turnwise report` on the compare folder and on a run folder.
    let page = tmp.path().join("r.html");
    let md = tmp.path().join("r.md");
    let res = Command::new(exe)
        .args([
            "report",
            out.to_str().unwrap(),
            "--out",
            page.to_str().unwrap(),
        ])
        .args(["--markdown", md.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("| `trloo` |"), "{md}");
    assert!(second.join("report.html").is_file());
}
