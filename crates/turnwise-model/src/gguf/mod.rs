//! GGUF files (llama.cpp's format) as policies: `--model FILE.gguf` wherever a Hugging Face
//! folder is accepted. The header is parsed here ([`file`]), quantised blocks are
//! dequantised by candle-core ([`dequant`]), the metadata becomes a `config.json` and the
//! tensors get their Hugging Face names ([`model`]), and the tokenizer and chat template are
//! rebuilt from the `tokenizer.*` metadata ([`tokenizer`]). See docs/model.md.

pub mod dequant;
pub mod file;
pub mod model;
pub mod tokenizer;

pub use file::{GgufFile, MetaValue, TensorInfo};

use std::path::Path;

/// Whether `path` is a GGUF file (a file whose first four bytes are `GGUF`, or whose name
/// ends in `.gguf`, so that a missing or empty `.gguf` file gets the GGUF error messages).
pub fn is_gguf(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
    {
        return true;
    }
    if !path.is_file() {
        return false;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"GGUF"
}
