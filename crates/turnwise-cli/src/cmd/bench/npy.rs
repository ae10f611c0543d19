//! Minimal NumPy `.npy` (format 1.0) writer for 1-D little-endian arrays, written
//! atomically: the export read by `bench/credit_reference.py`.

use std::path::Path;

use turnwise_core::jsonl::write_atomic;

fn npy(descr: &str, len: usize, data: impl Iterator<Item = [u8; 8]>) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({len},), }}");
    // magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 8 * len);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    data.for_each(|b| out.extend_from_slice(&b));
    out
}

/// Writes `x` as a float64 `.npy` file.
pub fn write_f64(path: &Path, x: &[f64]) -> anyhow::Result<()> {
    write_atomic(
        path,
        &npy("<f8", x.len(), x.iter().map(|v| v.to_le_bytes())),
    )?;
    Ok(())
}

/// Writes `x` as an int64 `.npy` file.
pub fn write_i64(path: &Path, x: &[i64]) -> anyhow::Result<()> {
    write_atomic(
        path,
        &npy("<i8", x.len(), x.iter().map(|v| v.to_le_bytes())),
    )?;
    Ok(())
}
