//! `turnwise bench model`: the `tiny` preset (vocab 512, d 256, 4 layers, 4 heads, MLP 1024)
//! measured in this process — a train step on 16 × 128 tokens (forward, weighted
//! cross-entropy, backward, AdamW) and generation (16 prompts × 32 tokens, 96 new tokens) —
//! then bench/torch_reference.py doing the same work in PyTorch eager in a child process,
//! both with the same thread count; prints both, their peak RSS, and the three ratios.

use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Instant;
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};
use turnwise_model::{DType, ModelConfig, Policy, SamplingConfig, SeqBatch};

/// Arguments of `turnwise bench model`.
#[derive(clap::Args)]
pub struct Args {
    /// Timed repetitions of each measurement (the median is reported).
    #[arg(long, default_value_t = 7)]
    steps: usize,
    /// Intra-op threads for both implementations.
    #[arg(long, default_value_t = 2)]
    threads: i32,
    /// Python interpreter with torch (scripts/setup-torch.sh links it as .venv).
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    /// The PyTorch reference script.
    #[arg(long, default_value = "bench/torch_reference.py")]
    script: PathBuf,
    /// Skip the PyTorch reference.
    #[arg(long)]
    no_reference: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Peak resident set of this process in MB (VmHWM).
fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn turnwise(steps: usize) -> Result<Value> {
    let cfg = ModelConfig::preset("tiny", None)?;
    let policy = Policy::new(cfg, Device::Cpu, DType::F32, 0)?;
    let mut rng = turnwise_core::seed::rng(0, 1);
    use rand::Rng as _;
    let seqs: Vec<Vec<u32>> = (0..16)
        .map(|_| (0..128).map(|_| rng.random_range(0..512)).collect())
        .collect();
    let batch = SeqBatch::right_padded(&seqs, 0, Device::Cpu)?;
    let w: Vec<f32> = (0..16 * 128).map(|_| rng.random::<f32>()).collect();
    let w = Tensor::f_from_slice(&w)?.f_view([16, 128])?;
    let mut opt = nn::AdamW::default().build(policy.var_store(), 1e-4)?;
    let mut times = vec![];
    for i in 0..2 + steps {
        let t0 = Instant::now();
        let s = policy.token_logprobs(&batch.ids, &batch.positions, None, 1.0, false)?;
        let loss = s
            .logprobs
            .f_mul(&w)?
            .f_sum(Kind::Float)?
            .f_neg()?
            .f_div(&w.f_narrow(1, 1, 127)?.f_sum(Kind::Float)?)?;
        opt.zero_grad();
        loss.f_backward()?;
        opt.step();
        if i >= 2 {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let prompts: Vec<Vec<u32>> = (0..16)
        .map(|_| (0..32).map(|_| rng.random_range(0..512)).collect())
        .collect();
    let sc = SamplingConfig {
        max_new_tokens: 96,
        temperature: 1.0,
        ..Default::default()
    };
    let mut gen = vec![];
    for i in 0..1 + steps {
        let t0 = Instant::now();
        let g = policy.generate(
            &prompts,
            &SamplingConfig {
                seed: i as u64,
                ..sc.clone()
            },
            None,
        )?;
        anyhow::ensure!(
            g.iter().all(|x| x.tokens.len() == 96),
            "generation stopped early"
        );
        if i >= 1 {
            gen.push(t0.elapsed().as_secs_f64());
        }
    }
    Ok(json!({
        "impl": "turnwise (tch 0.24, libtorch 2.11.0)",
        "train_step_ms": 1000.0 * median(times),
        "generate_tokens_per_s": 16.0 * 96.0 / median(gen),
        "peak_rss_mb": peak_rss_mb(),
    }))
}

fn reference(a: &Args) -> Result<Value> {
    let out = std::process::Command::new(&a.python)
        .arg(&a.script)
        .args([
            "--steps",
            &a.steps.to_string(),
            "--threads",
            &a.threads.to_string(),
        ])
        .env("OMP_NUM_THREADS", a.threads.to_string())
        .output()
        .with_context(|| {
            format!(
                "running {} {} (option `python`; run scripts/setup-torch.sh)",
                a.python.display(),
                a.script.display()
            )
        })?;
    anyhow::ensure!(
        out.status.success(),
        "{} failed: {}",
        a.script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).with_context(|| format!("output of {}", a.script.display()))
}

/// Runs the benchmark; returns the exit status.
pub fn run(a: Args) -> Result<i32> {
    anyhow::ensure!(a.steps > 0, "option `steps`: must be positive");
    anyhow::ensure!(a.threads > 0, "option `threads`: must be positive");
    tch::set_num_threads(a.threads);
    let ours = turnwise(a.steps)?;
    let mut report = json!({ "turnwise": ours });
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "turnwise: train step {:.1} ms, generation {:.0} tokens/s, peak RSS {:.0} MB",
        f(&ours, "train_step_ms"),
        f(&ours, "generate_tokens_per_s"),
        f(&ours, "peak_rss_mb")
    );
    if !a.no_reference {
        let theirs = reference(&a)?;
        println!(
            "pytorch:  train step {:.1} ms, generation {:.0} tokens/s, peak RSS {:.0} MB",
            f(&theirs, "train_step_ms"),
            f(&theirs, "generate_tokens_per_s"),
            f(&theirs, "peak_rss_mb")
        );
        let ratios = json!({
            "train_step_time": f(&ours, "train_step_ms") / f(&theirs, "train_step_ms"),
            "generate_throughput": f(&ours, "generate_tokens_per_s") / f(&theirs, "generate_tokens_per_s"),
            "peak_rss": f(&ours, "peak_rss_mb") / f(&theirs, "peak_rss_mb"),
        });
        println!(
            "ratios (turnwise / pytorch): train time {:.3} (target ≤ 1.05), generation throughput {:.3} (target ≥ 1.2), peak RSS {:.3} (target ≤ 0.6)",
            f(&ratios, "train_step_time"),
            f(&ratios, "generate_throughput"),
            f(&ratios, "peak_rss")
        );
        report["pytorch"] = theirs;
        report["ratios"] = ratios;
    }
    println!("{report}");
    Ok(0)
}
