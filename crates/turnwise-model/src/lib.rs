//! # turnwise-model
//!
//! The policy: a decoder-only transformer in the Llama / Qwen2 layout on libtorch,
//! loaded from and saved to Hugging Face checkpoint folders, its tokenizer, batched
//! sampling with a KV cache, teacher-forced scoring for training, and LoRA adapters; GGUF
//! files load wherever a folder does.
//! See docs/model.md.

pub mod checkpoint;
pub mod config;
pub mod cuda;
pub mod device;
pub mod error;
pub mod gguf;
pub mod logprobs;
pub mod lora;
pub mod memory;
pub mod model;
pub mod sample;
pub mod tokenizer;

pub use config::ModelConfig;
pub use device::{parse_device, DType};
pub use error::{ModelError, Result};
pub use logprobs::{SeqBatch, TokenStats};
pub use lora::LoraConfig;
pub use model::cache::KvCache;
pub use model::Policy;
pub use sample::session::Session;
pub use sample::{Decode, Generation, SamplingConfig, StopReason};
