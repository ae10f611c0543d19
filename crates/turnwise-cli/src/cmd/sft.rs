//! `turnwise sft`: supervised warm start on demonstrations (`turnwise env demos` output),
//! loss on action tokens only; saves the policy in the HF layout and prints an evaluation.
//! Uses `run.threads`; refuses an `--out` folder that holds a training run.

use std::path::PathBuf;

use anyhow::Result;
use turnwise_core::jsonl;
use turnwise_train::policy::{Placement, Policy, WordTokenizer};
use turnwise_train::rollout::HistorySpec;
use turnwise_train::train::{apply_threads, envs, eval, preflight, run_dir, sft};

/// Arguments of `turnwise sft`.
#[derive(clap::Args)]
pub struct Args {
    /// Demonstrations (turnwise JSONL group lines).
    #[arg(long)]
    demos: PathBuf,
    /// Configuration file (model, sft, optim, env sections); default: built-in.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override `KEY=VALUE` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Output folder for the policy (HF layout).
    #[arg(long)]
    out: PathBuf,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    let cfg = turnwise_train::config::load(args.config.as_deref(), &args.sets)?;
    let found = run_dir::run_entries(&args.out);
    anyhow::ensure!(
        !found.iter().any(|e| e != "config.toml"),
        "{} holds a training run ({}); choose another --out",
        args.out.display(),
        found.join(", ")
    );
    apply_threads(cfg.run.threads);
    let mut demos = jsonl::read_batch(&args.demos)?.groups;
    let texts = envs::vocabulary_texts(&cfg, &demos)?;
    let tok = WordTokenizer::build_with(texts.iter().map(String::as_str), cfg.model.pieces()?);
    let policy = Policy::new_on(&cfg.model, tok, cfg.run.seed, Placement::of(&cfg)?)?;
    preflight::check_context(&cfg, &policy)?;
    sft::tokenize(&mut demos, &policy.tokenizer)?;
    let history = HistorySpec {
        mode: cfg.env.history,
        k: cfg.env.history_k,
        bos: policy.tokenizer.bos(),
    };
    let st = sft::train(&policy, &demos, &cfg, history, |_, _| true)?;
    policy.save(&args.out)?;
    jsonl::write_atomic(
        &args.out.join("config.toml"),
        toml::to_string(&cfg)?.as_bytes(),
    )?;
    let report = eval::evaluate(&policy, &cfg, None, cfg.eval.episodes)?;
    println!(
        "{}",
        serde_json::json!({"rows": st.rows, "final_nll": st.final_nll, "eval": report})
    );
    Ok(0)
}
