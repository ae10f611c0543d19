//! # turnwise-model
//!
//! The policy: a decoder-only transformer in the Llama / Qwen2 layout on libtorch,
//! loaded from and saved to Hugging Face checkpoint folders, its tokenizer, and batched
//! sampling with a KV cache.

pub mod tokenizer;
