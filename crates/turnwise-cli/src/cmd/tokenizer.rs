//! `turnwise tokenizer`: train a byte-level BPE tokenizer on environment text
//! (`tokenizer train`), inspect how a tokenizer folder splits text (`tokenizer encode`) and
//! render chat messages with a model's template (`tokenizer chat`).
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
    /// Render a list of `{"role", "content"}` messages with the model's chat template and
    /// print `{"ids": [...], "text": "..."}` (the ids of `apply_chat_template(tokenize=True)`).
    Chat(ChatArgs),
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
    /// Tokenizer folder (tokenizer.json, tokenizer_config.json) or GGUF file.
    #[arg(long, visible_alias = "model")]
    dir: PathBuf,
    /// Text to encode.
    text: String,
}

#[derive(clap::Args)]
struct ChatArgs {
    /// Model or tokenizer folder, or GGUF file.
    #[arg(long, visible_alias = "dir")]
    model: PathBuf,
    /// JSON file: a list of messages, each an object with a string `role` and a `content`
    /// (other keys, e.g. `tool_calls`, are passed to the template as they are).
    #[arg(long)]
    messages: PathBuf,
    /// End with the template's generation prompt (the start of an assistant message).
    #[arg(long)]
    generation_prompt: bool,
}

/// Runs the command; returns the exit status.
pub fn run(args: Args) -> Result<i32> {
    match args.command {
        Sub::Train(a) => train(a),
        Sub::Encode(a) => encode(a),
        Sub::Chat(a) => chat(a),
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

/// Reads a messages file, naming the file and the message index of anything malformed.
fn read_messages(path: &std::path::Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let list = v
        .as_array()
        .with_context(|| format!("{}: expected a JSON list of messages", path.display()))?;
    for (i, m) in list.iter().enumerate() {
        let ok_role = m.get("role").is_some_and(serde_json::Value::is_string);
        anyhow::ensure!(
            ok_role,
            "{}: message {i}: key `role` must be a string",
            path.display()
        );
        let content = m.get("content").unwrap_or(&serde_json::Value::Null);
        anyhow::ensure!(
            content.is_string() || content.is_null() || content.is_array(),
            "{}: message {i}: key `content` must be a string",
            path.display()
        );
    }
    Ok(v)
}

fn chat(a: ChatArgs) -> Result<i32> {
    let messages = read_messages(&a.messages)?;
    let tok = Tokenizer::from_dir(&a.model)?;
    let tpl = tok
        .chat_template()
        .with_context(|| format!("{}: no chat template", a.model.display()))?;
    let text = tpl
        .render_json(&serde_json::json!({
            "messages": messages,
            "add_generation_prompt": a.generation_prompt,
        }))
        .with_context(|| format!("{}: rendering {}", a.model.display(), a.messages.display()))?;
    let ids = tok.encode(&text)?;
    println!("{}", serde_json::json!({ "ids": ids, "text": text }));
    Ok(0)
}
