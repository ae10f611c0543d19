//! `turnwise tokenizer`: train a byte-level BPE tokenizer on environment text
//! (`tokenizer train`) and inspect how a tokenizer folder splits text (`tokenizer encode`).
//! See docs/tokenizer.md.

use std::path::PathBuf;

use anyhow::{Context, Result};
use turnwise_model::tokenizer::{PreTokenizerKind, Tokenizer, TrainOptions};

/// Arguments of `turnwise tokenizer`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Train a byte-level BPE on a text file (one sequence per line) and write
    /// tokenizer.json + tokenizer_config.json (ChatML template, eos/pad) into a folder.
    Train(TrainArgs),
    /// Print the ids and tokens of a text under a tokenizer folder.
    Encode(EncodeArgs),
}

#[derive(clap::Args)]
struct TrainArgs {
    /// UTF-8 corpus, one training sequence per line.
    #[arg(long)]
    corpus: PathBuf,
    /// Vocabulary size including special tokens (at least 256 + number of specials).
    #[arg(long)]
    vocab: usize,
    /// Output folder (created; existing files are replaced atomically).
    #[arg(long)]
    out: PathBuf,
    /// Extra special token (repeatable), after <|endoftext|>, <|im_start|>, <|im_end|>.
    #[arg(long = "special", value_name = "TOKEN")]
    special: Vec<String>,
    /// Pre-tokenizer: `qwen2` (Split regex + ByteLevel, single digits) or `byte-level` (GPT-2).
    #[arg(long, default_value = "qwen2", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<PreTokenizerKind>()))]
    pre_tokenizer: PreTokenizerKind,
    /// Minimum count of a pair to be merged.
    #[arg(long, default_value_t = 2)]
    min_frequency: u64,
}

#[derive(clap::Args)]
struct EncodeArgs {
    /// Tokenizer folder (tokenizer.json, tokenizer_config.json).
    #[arg(long)]
    dir: PathBuf,
    /// Text to encode.
    text: String,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    match args.command {
        Sub::Train(a) => train(a),
        Sub::Encode(a) => encode(a),
    }
}

fn train(a: TrainArgs) -> Result<i32> {
    let mut opts = TrainOptions::new(a.vocab);
    opts.special_tokens.extend(a.special);
    opts.pre_tokenizer = a.pre_tokenizer;
    opts.min_frequency = a.min_frequency;
    let tok = Tokenizer::train_from_file(&a.corpus, &opts)?;
    // Check the exact round trip on the whole corpus before writing anything.
    let text =
        std::fs::read_to_string(&a.corpus).with_context(|| a.corpus.display().to_string())?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let ids = tok.encode_batch(&lines)?;
    let mut n_tokens = 0usize;
    for (i, (line, ids)) in lines.iter().zip(&ids).enumerate() {
        n_tokens += ids.len();
        anyhow::ensure!(
            tok.decode(ids)? == *line,
            "{}:{}: decode(encode(line)) differs from the line",
            a.corpus.display(),
            i + 1
        );
    }
    tok.save_dir(&a.out)?;
    println!(
        "wrote {}/tokenizer.json and tokenizer_config.json: vocab {} ({} special), {} corpus bytes -> {} tokens ({:.2} bytes/token), round trip exact",
        a.out.display(),
        tok.vocab_size(),
        opts.special_tokens.len(),
        text.len(),
        n_tokens,
        text.len() as f64 / n_tokens.max(1) as f64
    );
    Ok(0)
}

fn encode(a: EncodeArgs) -> Result<i32> {
    let tok = Tokenizer::from_dir(&a.dir)?;
    for id in tok.encode(&a.text)? {
        let t = tok.id_to_token(id).unwrap_or_default();
        println!("{id}\t{t}\t{:?}", tok.decode(&[id])?);
    }
    Ok(0)
}
