//! `turnwise bench model --model PATH`: turnwise and `transformers` doing the same work on the
//! same real model (a Hugging Face folder or a GGUF file; f32 on the CPU by default, or
//! `--device cuda --dtype bf16` on a GPU, both sides alike) in one command, interleaved. `transformers` runs in a worker process (bench/transformers_worker.py) that
//! holds the model and answers one measurement per request, so the two sides alternate
//! (A B, then B A, …) and each pair sees the same machine load; the figures are the medians
//! of the pairwise ratios, with their range and the load average next to them.
//!
//! The work: a train step (forward, weighted token NLL, backward, AdamW over every parameter)
//! on `batch × seq` random tokens, and batched generation with a KV cache (`prompts` prompts
//! of `prompt_len` random tokens, exactly `new_tokens` sampled at temperature 1). Peak memory
//! is each process's peak resident set (VmHWM / ru_maxrss) at the end. Each measurement records
//! wall time and the process's CPU time (all threads; on a shared machine CPU time is the
//! steadier figure, and spinning OpenMP workers show up in it).

use anyhow::{Context, Result};
use rand::Rng as _;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};
use turnwise_model::{DType, Policy, SamplingConfig, SeqBatch};

/// Arguments of `turnwise bench model`.
#[derive(clap::Args)]
pub struct Args {
    /// The model: a Hugging Face folder or a GGUF file (scripts/setup.d/20-model.sh puts
    /// SmolLM2-135M-Instruct at the default path).
    #[arg(long, default_value = ".models/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model: PathBuf,
    /// Timed rounds; each round measures both sides once per task (after one warm-up round).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Intra-op threads for both implementations.
    #[arg(long, default_value_t = 2)]
    threads: i32,
    /// Device of both sides: `cpu`, `cuda`, `cuda:N` (on a GPU each timed piece of work
    /// ends with a device synchronisation, so the times cover the kernels, not their launch).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Weight and activation dtype of both sides: `f32`, `bf16`, `f16`.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Measure generation only (a full-model train step of SmolLM2 takes tens of seconds
    /// on a small CPU).
    #[arg(long)]
    skip_train: bool,
    /// Measure the train step only.
    #[arg(long)]
    skip_generate: bool,
    /// Train step with activation checkpointing on both sides (turnwise's
    /// `model.gradient_checkpointing`, `transformers`' `gradient_checkpointing_enable()`).
    #[arg(long)]
    gradient_checkpointing: bool,
    /// Train step: sequences per batch.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Train step: tokens per sequence.
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// Generation: prompts generated together.
    #[arg(long, default_value_t = 8)]
    prompts: usize,
    /// Generation: tokens per prompt.
    #[arg(long, default_value_t = 32)]
    prompt_len: usize,
    /// Generation: new tokens per prompt.
    #[arg(long, default_value_t = 32)]
    new_tokens: usize,
    /// Python interpreter with transformers, gguf and accelerate
    /// (scripts/setup.d/20-model.sh links one as .venv-tf5).
    #[arg(long, default_value = ".venv-tf5/bin/python")]
    python: PathBuf,
    /// The transformers worker script.
    #[arg(long, default_value = "bench/transformers_worker.py")]
    script: PathBuf,
}

const LR: f64 = 1e-5;

/// The phases of a train step, timed on both sides: the forward pass with the head's
/// log-softmax and the targets' log-probs, the weighted loss, the backward pass (with the
/// gradients' reset), the optimizer step.
const PHASES: [&str; 4] = ["forward", "loss", "backward", "step"];

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

/// CPU seconds this process has used so far (user + system, all threads; getrusage).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One measurement: wall seconds and CPU seconds.
#[derive(Clone, Copy, Default)]
struct Timing {
    wall: f64,
    cpu: f64,
}

impl Timing {
    /// Times `f`.
    fn of<T>(f: impl FnOnce() -> Result<T>) -> Result<(Self, T)> {
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let out = f()?;
        let t = Timing {
            wall: t0.elapsed().as_secs_f64(),
            cpu: cpu_seconds() - c0,
        };
        Ok((t, out))
    }
}

/// The one-minute load average (noted next to every figure).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The `transformers` worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn start(a: &Args, setup: &Value) -> Result<(Self, f64)> {
        let mut child = Command::new(&a.python)
            .arg(&a.script)
            .env("OMP_NUM_THREADS", a.threads.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} {} (option `python`; run scripts/setup.d/20-model.sh)",
                    a.python.display(),
                    a.script.display()
                )
            })?;
        let stdin = child.stdin.take().context("worker stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("worker stdout")?);
        let mut w = Worker {
            child,
            stdin,
            stdout,
        };
        let ready = w.ask(setup)?;
        Ok((w, ready["load_s"].as_f64().unwrap_or(f64::NAN)))
    }

    fn ask(&mut self, req: &Value) -> Result<Value> {
        writeln!(self.stdin, "{req}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        anyhow::ensure!(
            !line.is_empty(),
            "the transformers worker exited (see its error above)"
        );
        let v: Value = serde_json::from_str(&line).context("transformers worker reply")?;
        anyhow::ensure!(
            v.get("error").is_none(),
            "transformers worker: {}",
            v["error"]
        );
        Ok(v)
    }

    fn timing(&mut self, req: Value) -> Result<Timing> {
        Ok(self.timing_phases(req)?.0)
    }

    /// A measurement and the phases ([`PHASES`]) its reply times (zeros where it has none).
    fn timing_phases(&mut self, req: Value) -> Result<(Timing, [Timing; 4])> {
        let v = self.ask(&req)?;
        let get = |k: &str| {
            v[k].as_f64()
                .with_context(|| format!("transformers worker reply without `{k}`"))
        };
        let total = Timing {
            wall: get("seconds")?,
            cpu: get("cpu_seconds")?,
        };
        let mut phases = [Timing::default(); 4];
        for (p, name) in phases.iter_mut().zip(PHASES) {
            let ph = &v["phases"][name];
            p.wall = ph["seconds"].as_f64().unwrap_or(0.0);
            p.cpu = ph["cpu_seconds"].as_f64().unwrap_or(0.0);
        }
        Ok((total, phases))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for the kernels queued on `device` (a no-op on the CPU).
fn synchronize(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// turnwise's side: the model, its optimiser and the fixed inputs.
struct Ours {
    policy: Policy,
    opt: nn::Optimizer,
    batch: SeqBatch,
    weights: Tensor,
    prompts: Vec<Vec<u32>>,
    new_tokens: usize,
}

impl Ours {
    /// One train step; the total and its phases ([`PHASES`]).
    fn train(&mut self) -> Result<(Timing, [Timing; 4])> {
        let mut phases = [Timing::default(); 4];
        let device = self.policy.device();
        let (t, ()) = Timing::of(|| {
            let (p, s) = Timing::of(|| {
                let s = self.policy.token_logprobs(
                    &self.batch.ids,
                    &self.batch.positions,
                    None,
                    1.0,
                    false,
                )?;
                synchronize(device);
                Ok(s)
            })?;
            phases[0] = p;
            let (p, loss) = Timing::of(|| {
                let loss = s
                    .logprobs
                    .f_mul(&self.weights)?
                    .f_sum(Kind::Float)?
                    .f_neg()?
                    .f_div(&self.weights.f_sum(Kind::Float)?)?;
                synchronize(device);
                Ok(loss)
            })?;
            phases[1] = p;
            drop(s);
            (phases[2], ()) = Timing::of(|| {
                self.opt.zero_grad();
                self.policy.backward(&loss)?;
                synchronize(device);
                Ok(())
            })?;
            drop(loss);
            (phases[3], ()) = Timing::of(|| {
                self.opt.step();
                synchronize(device);
                Ok(())
            })?;
            Ok(())
        })?;
        Ok((t, phases))
    }

    fn generate(&self, seed: u64) -> Result<Timing> {
        let cfg = SamplingConfig {
            max_new_tokens: self.new_tokens,
            temperature: 1.0,
            seed,
            ..Default::default()
        };
        let (t, g) = Timing::of(|| {
            Ok(tch::no_grad(|| {
                self.policy.generate(&self.prompts, &cfg, None)
            })?)
        })?;
        anyhow::ensure!(
            g.iter().all(|x| x.tokens.len() == self.new_tokens),
            "generation stopped early"
        );
        Ok(t)
    }
}

/// Median, min and max of pairwise ratios.
fn summary(ratios: &[f64]) -> Value {
    if ratios.is_empty() {
        return json!({"median": null, "min": null, "max": null, "pairs": []});
    }
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    json!({"median": median(ratios.to_vec()), "min": lo, "max": hi, "pairs": ratios})
}

/// A number of a [`summary`] (NaN when absent).
fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(f64::NAN)
}

/// The timed pairs of one task (turnwise, transformers), one per round.
#[derive(Default)]
struct Side {
    pairs: Vec<(Timing, Timing)>,
    /// Per round, the phases' pairs ([`PHASES`]; train step only).
    phases: Vec<[(Timing, Timing); 4]>,
}

impl Side {
    /// Median wall and CPU seconds of each phase, both sides, as JSON and as one line.
    fn phase_medians(&self) -> (Value, String) {
        let mut js = serde_json::Map::new();
        let mut line = vec![];
        for (i, name) in PHASES.iter().enumerate() {
            let m = |f: &dyn Fn(&(Timing, Timing)) -> f64| {
                median(self.phases.iter().map(|p| f(&p[i])).collect())
            };
            let (ow, tw) = (m(&|p| p.0.wall), m(&|p| p.1.wall));
            let (oc, tc) = (m(&|p| p.0.cpu), m(&|p| p.1.cpu));
            js.insert(
                name.to_string(),
                json!({"turnwise": {"wall": ow, "cpu": oc}, "transformers": {"wall": tw, "cpu": tc}}),
            );
            line.push(format!(
                "{name} {ow:.3} vs {tw:.3} s wall, {oc:.3} vs {tc:.3} s CPU"
            ));
        }
        (Value::Object(js), line.join("; "))
    }

    fn push(&mut self, ours: Timing, theirs: Timing) {
        self.pairs.push((ours, theirs));
    }

    fn ours(&self, f: impl Fn(&Timing) -> f64) -> Vec<f64> {
        self.pairs.iter().map(|(o, _)| f(o)).collect()
    }

    fn theirs(&self, f: impl Fn(&Timing) -> f64) -> Vec<f64> {
        self.pairs.iter().map(|(_, t)| f(t)).collect()
    }

    /// Summary of the pairwise ratios ours / theirs of one figure (wall or CPU seconds).
    fn time_ratio(&self, f: impl Fn(&Timing) -> f64) -> Value {
        let r: Vec<f64> = self.pairs.iter().map(|(o, t)| f(o) / f(t)).collect();
        summary(&r)
    }

    fn json(&self) -> Value {
        json!({
            "turnwise": {"wall": self.ours(|t| t.wall), "cpu": self.ours(|t| t.cpu)},
            "transformers": {"wall": self.theirs(|t| t.wall), "cpu": self.theirs(|t| t.cpu)},
        })
    }
}

/// Runs the benchmark; returns the exit status.
pub fn run(a: Args) -> Result<i32> {
    anyhow::ensure!(a.rounds > 0, "option `rounds`: must be positive");
    anyhow::ensure!(a.threads > 0, "option `threads`: must be positive");
    anyhow::ensure!(
        a.batch > 0 && a.seq > 1 && a.prompts > 0 && a.prompt_len > 0 && a.new_tokens > 0,
        "options `batch`, `prompts`, `prompt-len`, `new-tokens` must be positive and `seq` > 1"
    );
    tch::set_num_threads(a.threads);
    let t0 = Instant::now();
    anyhow::ensure!(
        !(a.skip_train && a.skip_generate),
        "options `skip-train` and `skip-generate`: nothing left to measure"
    );
    let device = turnwise_model::parse_device(&a.device).context("option `device`")?;
    let dtype = DType::parse(&a.dtype).context("option `dtype`")?;
    let mut policy = Policy::load(&a.model, device, dtype)?;
    policy.set_gradient_checkpointing(a.gradient_checkpointing);
    let our_load_s = t0.elapsed().as_secs_f64();
    let vocab = policy.config.vocab_size as u32;
    let mut rng = turnwise_core::seed::rng(0, 1);
    let mut ids = |n: usize, len: usize| -> Vec<Vec<u32>> {
        (0..n)
            .map(|_| (0..len).map(|_| rng.random_range(0..vocab)).collect())
            .collect()
    };
    let train_ids = ids(a.batch, a.seq);
    let prompts = ids(a.prompts, a.prompt_len);
    let w: Vec<f32> = (0..a.batch * (a.seq - 1))
        .map(|_| rng.random::<f32>())
        .collect();
    // Column 0 has no log-prob (nothing predicts the first token): weight 0 there.
    let w_rows: Vec<Vec<f32>> = w.chunks(a.seq - 1).map(<[f32]>::to_vec).collect();
    let padded: Vec<f32> = w_rows
        .iter()
        .flat_map(|r| std::iter::once(0.0).chain(r.iter().copied()))
        .collect();
    let setup = json!({
        "model": std::fs::canonicalize(&a.model)?,
        "threads": a.threads,
        "train_ids": train_ids,
        "train_weights": w_rows,
        "prompts": prompts,
        "new_tokens": a.new_tokens,
        "lr": LR,
        "gradient_checkpointing": a.gradient_checkpointing,
        "device": a.device,
        "dtype": a.dtype,
    });
    let (mut worker, their_load_s) = Worker::start(&a, &setup)?;
    let opt = nn::AdamW::default().build(policy.var_store(), LR)?;
    let mut ours = Ours {
        batch: SeqBatch::right_padded(&train_ids, 0, device)?,
        weights: Tensor::f_from_slice(&padded)?
            .f_view([a.batch as i64, a.seq as i64])?
            .f_to_device(device)?,
        policy,
        opt,
        prompts,
        new_tokens: a.new_tokens,
    };
    let gen_tokens = (a.prompts * a.new_tokens) as f64;
    let mut train = Side::default();
    let mut gen = Side::default();
    let mut loads = vec![];
    for round in 0..=a.rounds {
        let seed = round as u64;
        // A B in even rounds, B A in odd ones.
        let ours_first = round % 2 == 0;
        let pair = |ours: &mut dyn FnMut() -> Result<Timing>,
                    theirs: &mut dyn FnMut() -> Result<Timing>|
         -> Result<(Timing, Timing)> {
            if ours_first {
                let o = ours()?;
                Ok((o, theirs()?))
            } else {
                let t = theirs()?;
                Ok((ours()?, t))
            }
        };
        let mut ph = None;
        let tr = if a.skip_train {
            None
        } else {
            let (mut op, mut tp) = (None, None);
            let r = pair(
                &mut || {
                    let (t, p) = ours.train()?;
                    op = Some(p);
                    Ok(t)
                },
                &mut || {
                    let (t, p) = worker.timing_phases(json!({"op": "train"}))?;
                    tp = Some(p);
                    Ok(t)
                },
            )?;
            if let (Some(o), Some(t)) = (op, tp) {
                ph = Some(std::array::from_fn(|i| (o[i], t[i])));
            }
            Some(r)
        };
        let ge = if a.skip_generate {
            None
        } else {
            Some(pair(&mut || ours.generate(seed), &mut || {
                worker.timing(json!({"op": "generate", "seed": seed}))
            })?)
        };
        let load = load_average();
        eprintln!(
            "round {round}{}: {}{}(load {load:.1})",
            if round == 0 { " (warm-up)" } else { "" },
            tr.map_or(String::new(), |(o, t)| format!(
                "train step {:.2} vs {:.2} s wall, {:.2} vs {:.2} s CPU; ",
                o.wall, t.wall, o.cpu, t.cpu
            )),
            ge.map_or(String::new(), |(o, t)| format!(
                "generation {:.1} vs {:.1} tokens/s wall, {:.1} vs {:.1} tokens per CPU second ",
                gen_tokens / o.wall,
                gen_tokens / t.wall,
                gen_tokens / o.cpu,
                gen_tokens / t.cpu
            )),
        );
        if round == 0 {
            continue;
        }
        if let Some((o, t)) = tr {
            train.push(o, t);
        }
        if let Some(p) = ph {
            train.phases.push(p);
        }
        if let Some((o, t)) = ge {
            gen.push(o, t);
        }
        loads.push(load);
    }
    let their_peak = worker.ask(&json!({"op": "peak"}))?["peak_rss_mb"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let our_peak = peak_rss_mb();
    println!(
        "{}: {} rounds, {} threads, {} {}, load average {:.1}-{:.1}",
        a.model.display(),
        a.rounds,
        a.threads,
        a.device,
        a.dtype,
        loads.iter().copied().fold(f64::INFINITY, f64::min),
        loads.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    );
    if !a.skip_train {
        let (w, c) = (train.time_ratio(|t| t.wall), train.time_ratio(|t| t.cpu));
        println!(
            "train step ({}x{} tokens, AdamW{}): turnwise {:.3} s, transformers {:.3} s wall; time ratio turnwise/transformers median {:.3} wall (range {:.3}-{:.3}), {:.3} CPU (range {:.3}-{:.3}); target <= 1.0",
            a.batch, a.seq, if a.gradient_checkpointing { ", activation checkpointing" } else { "" }, median(train.ours(|t| t.wall)), median(train.theirs(|t| t.wall)),
            num(&w, "median"), num(&w, "min"), num(&w, "max"), num(&c, "median"), num(&c, "min"), num(&c, "max")
        );
        println!(
            "train step phases (medians, turnwise vs transformers): {}",
            train.phase_medians().1
        );
    }
    // Throughput ratio = their time / our time.
    let inv = |v: Value| -> Value {
        let r = |k: &str| 1.0 / v[k].as_f64().unwrap_or(f64::NAN);
        json!({"median": r("median"), "min": r("max"), "max": r("min"),
               "pairs": v["pairs"].as_array().map(|p| p.iter().map(|x| 1.0 / x.as_f64().unwrap_or(f64::NAN)).collect::<Vec<_>>())})
    };
    let (gw, gc) = (
        inv(gen.time_ratio(|t| t.wall)),
        inv(gen.time_ratio(|t| t.cpu)),
    );
    if !a.skip_generate {
        println!(
        "generation ({} prompts x {} new tokens, KV cache): turnwise {:.1}, transformers {:.1} tokens/s wall; {:.1} vs {:.1} tokens per CPU second; throughput ratio turnwise/transformers median {:.3} wall (range {:.3}-{:.3}), {:.3} CPU (range {:.3}-{:.3}); target >= 2",
        a.prompts, a.new_tokens,
        gen_tokens / median(gen.ours(|t| t.wall)), gen_tokens / median(gen.theirs(|t| t.wall)),
        gen_tokens / median(gen.ours(|t| t.cpu)), gen_tokens / median(gen.theirs(|t| t.cpu)),
        num(&gw, "median"), num(&gw, "min"), num(&gw, "max"), num(&gc, "median"), num(&gc, "min"), num(&gc, "max")
    );
    }
    println!(
        "peak memory: turnwise {our_peak:.0} MB, transformers {their_peak:.0} MB; ratio {:.3} (target <= 0.7)",
        our_peak / their_peak
    );
    let report = json!({
        "model": a.model,
        "threads": a.threads,
        "device": a.device,
        "dtype": a.dtype,
        "rounds": a.rounds,
        "gradient_checkpointing": a.gradient_checkpointing,
        "load_average": loads,
        "load_s": {"turnwise": our_load_s, "transformers": their_load_s},
        "train_step_s": train.json(),
        "train_step_phases_s": train.phase_medians().0,
        "generate_s": gen.json(),
        "generate_tokens": gen_tokens,
        "ratios": {
            "train_step_time_wall": train.time_ratio(|t| t.wall),
            "train_step_time_cpu": train.time_ratio(|t| t.cpu),
            "generate_throughput_wall": gw,
            "generate_throughput_cpu": gc,
            "peak_rss": our_peak / their_peak,
        },
        "peak_rss_mb": {"turnwise": our_peak, "transformers": their_peak},
    });
    println!("{report}");
    Ok(0)
}
