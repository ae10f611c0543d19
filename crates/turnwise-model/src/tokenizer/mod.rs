//! Tokenizers: Hugging Face `tokenizer.json`, chat templates, and byte-level BPE training.
