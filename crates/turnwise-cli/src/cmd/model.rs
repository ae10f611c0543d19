//! `turnwise model`: score token ids, sample text, create from-scratch checkpoints, convert
//! GGUF files to Hugging Face folders. `--model` takes a folder or a `.gguf` file.

use anyhow::{Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use turnwise_model::tokenizer::Tokenizer;
use turnwise_model::{parse_device, DType, ModelConfig, Policy, SamplingConfig};

/// Subcommands of `turnwise model`.
#[derive(clap::Subcommand)]
pub enum Model {
    /// Print `{"logprobs": [...]}`: log p(token_i | tokens before i) for i ≥ 1.
    Logprobs(LogprobsArgs),
    /// Sample continuations of a text prompt (tokenizer.json in the model folder).
    Generate(GenerateArgs),
    /// Write a freshly initialised model folder from a preset.
    Init(InitArgs),
    /// Write a GGUF file as a Hugging Face folder (config.json, model.safetensors,
    /// tokenizer.json, tokenizer_config.json with the chat template, generation_config.json).
    Convert(ConvertArgs),
}

/// Where the model lives and how it runs.
#[derive(clap::Args)]
pub struct Runtime {
    /// Hugging Face model folder (config.json, model.safetensors or shards) or GGUF file.
    #[arg(long)]
    model: PathBuf,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// f32 or bf16.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Torch intra-op threads (0: libtorch's default, every core). 1 is fastest on a small
    /// shared CPU: with more threads than free cores, OpenMP's spinning workers cost up to
    /// 10× the CPU time (docs/model.md, "Generation speed").
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

impl Runtime {
    fn load(&self) -> Result<Policy> {
        turnwise_train::train::apply_threads(self.threads);
        let device = parse_device(&self.device)?;
        let dtype = DType::parse(&self.dtype)?;
        Ok(Policy::load(&self.model, device, dtype)?)
    }
}

/// Arguments of `turnwise model logprobs`.
#[derive(clap::Args)]
pub struct LogprobsArgs {
    #[command(flatten)]
    rt: Runtime,
    /// Comma-separated token ids (at least two).
    #[arg(long, value_delimiter = ',', required = true)]
    token_ids: Vec<u32>,
}

/// Arguments of `turnwise model generate`.
#[derive(clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    rt: Runtime,
    /// The prompt text (encoded with the folder's tokenizer.json, no special tokens added).
    #[arg(long)]
    prompt: String,
    /// Samples to draw for the prompt (one batch).
    #[arg(long, default_value_t = 1)]
    num_samples: usize,
    /// Most new tokens per sample.
    #[arg(long, default_value_t = 64)]
    max_new_tokens: usize,
    /// Temperature (0 = greedy).
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Nucleus mass in (0, 1].
    #[arg(long, default_value_t = 1.0)]
    top_p: f64,
    /// Top-k (0 = off).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Stop string (repeatable).
    #[arg(long = "stop")]
    stop: Vec<String>,
    /// Stop token id (repeatable); the config's eos_token_id always stops too.
    #[arg(long = "stop-token")]
    stop_token: Vec<u32>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Arguments of `turnwise model init`.
#[derive(clap::Args)]
pub struct InitArgs {
    /// Preset name (`tiny`, `tiny-qwen2`, `small`).
    #[arg(long)]
    preset: String,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Vocabulary size (default: the preset's, or the tokenizer's when --tokenizer is given).
    #[arg(long)]
    vocab_size: Option<usize>,
    /// tokenizer.json to copy into the folder.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Initialisation seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Arguments of `turnwise model convert`.
#[derive(clap::Args)]
pub struct ConvertArgs {
    /// The GGUF file.
    #[arg(long)]
    model: PathBuf,
    /// Output folder (created; its weight and tokenizer files are replaced atomically).
    #[arg(long)]
    out: PathBuf,
    /// Weight dtype written: f32 (the dequantised values exactly) or bf16.
    #[arg(long, default_value = "f32")]
    dtype: String,
}

/// Runs the command; returns the exit status.
pub fn run(cmd: Model) -> Result<i32> {
    match cmd {
        Model::Logprobs(a) => {
            let policy = a.rt.load()?;
            let lp = policy.sequence_logprobs(&a.token_ids)?;
            println!("{}", json!({ "logprobs": lp }));
        }
        Model::Generate(a) => generate(a)?,
        Model::Init(a) => init(a)?,
        Model::Convert(a) => convert(a)?,
    }
    Ok(0)
}

fn load_tokenizer(path: &Path) -> Result<tokenizers::Tokenizer> {
    tokenizers::Tokenizer::from_file(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn generate(a: GenerateArgs) -> Result<()> {
    let hf = Tokenizer::from_dir(&a.rt.model)?;
    let policy = a.rt.load()?;
    let prompt = hf
        .encode(&a.prompt)
        .map_err(|e| anyhow::anyhow!("encoding --prompt: {e}"))?;
    let tok = hf.inner();
    anyhow::ensure!(!prompt.is_empty(), "option `prompt`: encodes to no tokens");
    let mut stop_tokens = a.stop_token.clone();
    stop_tokens.extend(policy.config.eos_token_ids());
    stop_tokens.extend(hf.special().stop_ids.iter().copied());
    let cfg = SamplingConfig {
        max_new_tokens: a.max_new_tokens,
        temperature: a.temperature,
        top_p: a.top_p,
        top_k: a.top_k,
        stop_tokens,
        stop_strings: a.stop.clone(),
        seed: a.seed,
    };
    let prompts = vec![prompt.clone(); a.num_samples.max(1)];
    let gens = policy.generate(&prompts, &cfg, Some(tok))?;
    for g in gens {
        let text = tok
            .decode(&g.tokens, true)
            .map_err(|e| anyhow::anyhow!("decoding: {e}"))?;
        let text = turnwise_model::sample::session::strip_stop(&text, &g.stop_reason);
        let line = json!({
            "prompt_tokens": prompt,
            "text": text,
            "tokens": g.tokens,
            "logprobs_raw": g.logprobs_raw,
            "logprobs_trunc": g.logprobs_trunc,
            "stop_reason": g.stop_reason.name(),
        });
        println!("{line}");
    }
    Ok(())
}

fn init(a: InitArgs) -> Result<()> {
    let tok = a.tokenizer.as_deref().map(load_tokenizer).transpose()?;
    let vocab = a
        .vocab_size
        .or(tok.as_ref().map(|t| t.get_vocab_size(true)));
    let cfg = ModelConfig::preset(&a.preset, vocab)?;
    let policy = Policy::new(cfg, tch::Device::Cpu, DType::F32, a.seed)?;
    policy.save(&a.out)?;
    if let Some(src) = &a.tokenizer {
        std::fs::copy(src, a.out.join("tokenizer.json"))
            .with_context(|| format!("copying {}", src.display()))?;
    }
    eprintln!(
        "wrote {} ({} parameters)",
        a.out.display(),
        policy.config.num_parameters()
    );
    Ok(())
}

/// GGUF → Hugging Face folder: the dequantised weights (LoRA-free, Q/K unpermuted) in `dtype`,
/// `config.json` in both rope layouts, and the tokenizer rebuilt from the metadata.
fn convert(a: ConvertArgs) -> Result<()> {
    anyhow::ensure!(
        turnwise_model::gguf::is_gguf(&a.model),
        "option `model`: {} is not a GGUF file",
        a.model.display()
    );
    let dtype = DType::parse(&a.dtype)?;
    anyhow::ensure!(dtype != DType::F64, "option `dtype`: f32 or bf16");
    let tok = Tokenizer::from_dir(&a.model)?;
    let policy = Policy::load(&a.model, tch::Device::Cpu, dtype)?;
    policy.save(&a.out)?;
    tok.save_dir(&a.out)?;
    let special = tok.special();
    let gen = json!({
        "bos_token_id": special.bos,
        "eos_token_id": special.stop_ids,
        "pad_token_id": special.pad,
    });
    let path = a.out.join("generation_config.json");
    turnwise_core::jsonl::write_atomic(&path, serde_json::to_string_pretty(&gen)?.as_bytes())
        .with_context(|| path.display().to_string())?;
    eprintln!(
        "wrote {} ({} parameters, {})",
        a.out.display(),
        policy.config.num_parameters(),
        dtype.hf_name()
    );
    Ok(())
}
