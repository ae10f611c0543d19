//! # turnwise-py
//!
//! The native module `turnwise._turnwise` of the `turnwise` Python package (built with
//! maturin, abi3). It exposes turnwise's Rust registries to Python without re-implementing
//! them: credit-assignment methods over trajectory dicts or flat NumPy arrays ([`credit`]),
//! token-level tensors as verl, SkyRL and TRL hold them ([`tokens`]), environments
//! ([`envs`]) and trajectory JSON Lines ([`jsonl`]). Errors become Python exceptions with
//! the CLI's messages ([`errors`]); array checks live in [`arrays`]. The pure-Rust parts
//! (column layout, turn spans) are in [`layout`] and [`spans`], tested without Python.

use pyo3::prelude::*;

/// Rust allocations of the extension (outputs handed to NumPy included) come from
/// mimalloc, which keeps freed pages for the next call.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod arrays;
pub mod credit;
pub mod envs;
pub mod errors;
pub mod jsonl;
pub mod labels;
pub mod layout;
pub mod spans;
pub mod tokens;

/// The native module.
#[pymodule]
fn _turnwise(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    credit::register(m)?;
    tokens::register(m)?;
    envs::register(m)?;
    jsonl::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
