//! The GGUF container (llama.cpp's `gguf.md`, versions 2 and 3): a little-endian header with
//! typed metadata key/values and tensor descriptors, then the aligned tensor data.
//!
//! The header is read here rather than with candle's `gguf_file` so that every failure names
//! the file and the key or tensor it happened in (candle rejects a whole file with "unknown
//! dtype for tensor 23" on an unsupported type); every length is checked against the bytes left
//! before anything is allocated, so a truncated or corrupt file is an error, never a panic or a
//! huge allocation. Blocks are dequantised by candle ([`super::dequant`]).

use crate::error::{ModelError, Result};
use std::collections::BTreeMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// Any unsigned or signed integer type, widened.
    Int(i128),
    /// `f32` or `f64`, widened.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    Str(String),
    /// An array of values of one type.
    Array(Vec<MetaValue>),
}

impl MetaValue {
    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            MetaValue::Int(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }
    /// The value as a float (integers widen).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            MetaValue::Float(v) => Some(*v),
            MetaValue::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
    /// The value as a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The value as a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            MetaValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The value as an array.
    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            MetaValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// One tensor descriptor.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    /// llama.cpp name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Dimensions in ggml order (`ne[0]`, the contiguous one, first).
    pub dims: Vec<u64>,
    /// ggml type id.
    pub type_id: u32,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements.
    pub fn numel(&self) -> u64 {
        self.dims.iter().product()
    }
    /// Row-major shape (`ne` reversed), as PyTorch and safetensors store it.
    pub fn shape(&self) -> Vec<i64> {
        self.dims.iter().rev().map(|&d| d as i64).collect()
    }
}

/// ggml tensor types: (id, name, elements per block, bytes per block). Types without a
/// dequantiser here are still named in errors.
pub const GGML_TYPES: &[(u32, &str, u64, u64)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
];

/// The name of a ggml type id (`type 99` when unknown).
pub fn type_name(id: u32) -> String {
    GGML_TYPES
        .iter()
        .find(|t| t.0 == id)
        .map_or_else(|| format!("type {id}"), |t| t.1.to_string())
}

/// A parsed GGUF header plus the open file, for reading tensor data on demand.
#[derive(Debug)]
pub struct GgufFile {
    /// The file.
    pub path: PathBuf,
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata, by key.
    pub metadata: BTreeMap<String, MetaValue>,
    /// Tensor descriptors, in file order.
    pub tensors: Vec<TensorInfo>,
    /// Absolute offset of the data section.
    pub data_offset: u64,
    /// File length in bytes.
    pub file_len: u64,
}

/// A reader that knows how many bytes are left and what it is reading (for errors).
struct Cursor<'a> {
    r: BufReader<std::fs::File>,
    pos: u64,
    len: u64,
    path: &'a Path,
}

impl Cursor<'_> {
    fn err(&self, what: &str, message: impl std::fmt::Display) -> ModelError {
        ModelError::checkpoint(self.path, format!("{what}: {message}"))
    }

    fn need(&self, n: u64, what: &str) -> Result<()> {
        if n > self.len - self.pos {
            return Err(self.err(
                what,
                format!(
                    "truncated file (needs {n} bytes at offset {}, the file has {})",
                    self.pos, self.len
                ),
            ));
        }
        Ok(())
    }

    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>> {
        self.need(n, what)?;
        let mut b = vec![0u8; n as usize];
        self.r.read_exact(&mut b).map_err(|e| self.err(what, e))?;
        self.pos += n;
        Ok(b)
    }

    fn fixed<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let b = self.bytes(N as u64, what)?;
        Ok(b.try_into().expect("length checked"))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.fixed(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.fixed(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.u64(what)?;
        let b = self.bytes(n, what)?;
        String::from_utf8(b).map_err(|_| self.err(what, "string is not UTF-8"))
    }

    /// A value of GGUF type `ty` (0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool,
    /// 8 string, 9 array, 10 u64, 11 i64, 12 f64).
    fn value(&mut self, ty: u32, what: &str, depth: usize) -> Result<MetaValue> {
        let int = |b: &[u8], signed: bool| -> i128 {
            let mut buf = [0u8; 16];
            buf[..b.len()].copy_from_slice(b);
            if signed && b[b.len() - 1] & 0x80 != 0 {
                buf[b.len()..].fill(0xff);
            }
            i128::from_le_bytes(buf)
        };
        Ok(match ty {
            0 | 1 => MetaValue::Int(int(&self.fixed::<1>(what)?, ty == 1)),
            2 | 3 => MetaValue::Int(int(&self.fixed::<2>(what)?, ty == 3)),
            4 | 5 => MetaValue::Int(int(&self.fixed::<4>(what)?, ty == 5)),
            10 | 11 => MetaValue::Int(int(&self.fixed::<8>(what)?, ty == 11)),
            6 => MetaValue::Float(f32::from_le_bytes(self.fixed(what)?) as f64),
            12 => MetaValue::Float(f64::from_le_bytes(self.fixed(what)?)),
            7 => match self.fixed::<1>(what)?[0] {
                0 => MetaValue::Bool(false),
                1 => MetaValue::Bool(true),
                b => return Err(self.err(what, format!("boolean byte {b}"))),
            },
            8 => MetaValue::Str(self.string(what)?),
            9 if depth < 2 => {
                let inner = self.u32(what)?;
                let n = self.u64(what)?;
                // Every element takes at least one byte: reject impossible lengths up front.
                self.need(n, what)?;
                let mut v = Vec::with_capacity(n.min(1 << 20) as usize);
                for _ in 0..n {
                    v.push(self.value(inner, what, depth + 1)?);
                }
                MetaValue::Array(v)
            }
            9 => return Err(self.err(what, "arrays nested too deeply")),
            t => return Err(self.err(what, format!("unknown value type {t}"))),
        })
    }
}

impl GgufFile {
    /// Reads the header of `path`; errors name the file and the key or tensor.
    pub fn open(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
        let len = f.metadata().map_err(|e| ModelError::io(path, e))?.len();
        let mut c = Cursor {
            r: BufReader::new(f),
            pos: 0,
            len,
            path,
        };
        let magic = c.fixed::<4>("header")?;
        if &magic != b"GGUF" {
            return Err(c.err("header", "not a GGUF file (magic is not `GGUF`)"));
        }
        let version = c.u32("header")?;
        if !(2..=3).contains(&version) {
            return Err(c.err(
                "header",
                format!("GGUF version {version} is not supported (2, 3)"),
            ));
        }
        let n_tensors = c.u64("header")?;
        let n_kv = c.u64("header")?;
        // A key/value takes at least 13 bytes, a tensor descriptor at least 24.
        c.need(
            n_kv.saturating_mul(13)
                .saturating_add(n_tensors.saturating_mul(24)),
            "header",
        )?;
        let mut metadata = BTreeMap::new();
        for i in 0..n_kv {
            let key = c.string(&format!("metadata entry {i}"))?;
            let what = format!("metadata key `{key}`");
            let ty = c.u32(&what)?;
            let v = c.value(ty, &what, 0)?;
            metadata.insert(key, v);
        }
        let mut tensors = Vec::with_capacity(n_tensors as usize);
        for i in 0..n_tensors {
            let name = c.string(&format!("tensor descriptor {i}"))?;
            let what = format!("tensor `{name}`");
            let n_dims = c.u32(&what)?;
            if n_dims == 0 || n_dims > 4 {
                return Err(c.err(&what, format!("{n_dims} dimensions (1 to 4 allowed)")));
            }
            let dims = (0..n_dims)
                .map(|_| c.u64(&what))
                .collect::<Result<Vec<_>>>()?;
            let type_id = c.u32(&what)?;
            let offset = c.u64(&what)?;
            tensors.push(TensorInfo {
                name,
                dims,
                type_id,
                offset,
            });
        }
        let align = match metadata.get("general.alignment") {
            None => 32,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() => a,
                _ => {
                    return Err(c.err(
                        "metadata key `general.alignment`",
                        format!("{v:?} is not a power of two"),
                    ))
                }
            },
        };
        let data_offset = c.pos.div_ceil(align) * align;
        let file = GgufFile {
            path: path.to_path_buf(),
            version,
            metadata,
            tensors,
            data_offset,
            file_len: len,
        };
        for t in &file.tensors {
            file.byte_range(t)?;
        }
        Ok(file)
    }

    /// An error naming this file and `what`.
    pub fn err(&self, what: &str, message: impl std::fmt::Display) -> ModelError {
        ModelError::checkpoint(&self.path, format!("{what}: {message}"))
    }

    /// A metadata value.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    /// The absolute byte range of a tensor's data, checked against the type's block size and
    /// the file length.
    pub fn byte_range(&self, t: &TensorInfo) -> Result<std::ops::Range<u64>> {
        let what = format!("tensor `{}`", t.name);
        let Some(&(_, ty, block, bytes)) = GGML_TYPES.iter().find(|x| x.0 == t.type_id) else {
            return Err(self.err(&what, format!("unknown ggml type id {}", t.type_id)));
        };
        let ne0 = t.dims[0];
        if !ne0.is_multiple_of(block) {
            return Err(self.err(
                &what,
                format!("first dimension {ne0} is not a multiple of the {ty} block size {block}"),
            ));
        }
        let size = t
            .numel()
            .checked_div(block)
            .and_then(|b| b.checked_mul(bytes))
            .ok_or_else(|| self.err(&what, "size overflows"))?;
        let start = self.data_offset.saturating_add(t.offset);
        let end = start.saturating_add(size);
        if end > self.file_len {
            return Err(self.err(
                &what,
                format!(
                    "truncated file (data ends at byte {end}, the file has {})",
                    self.file_len
                ),
            ));
        }
        Ok(start..end)
    }

    /// The raw bytes of a tensor.
    pub fn raw(&self, t: &TensorInfo) -> Result<Vec<u8>> {
        let range = self.byte_range(t)?;
        let mut f = std::fs::File::open(&self.path).map_err(|e| ModelError::io(&self.path, e))?;
        f.seek(SeekFrom::Start(range.start))
            .map_err(|e| ModelError::io(&self.path, e))?;
        let mut b = vec![0u8; (range.end - range.start) as usize];
        f.read_exact(&mut b)
            .map_err(|e| self.err(&format!("tensor `{}`", t.name), e))?;
        Ok(b)
    }
}
