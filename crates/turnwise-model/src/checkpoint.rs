//! Hugging Face checkpoint files: `model.safetensors`, or shards listed in
//! `model.safetensors.index.json` (`{"metadata": {"total_size": N}, "weight_map": {name: file}}`),
//! read into CPU tensors and written atomically with the `{"format": "pt"}` header metadata
//! `transformers` expects.

use crate::error::{ModelError, Result};
use safetensors::tensor::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::{Kind, Tensor};

/// Single-file weights name.
pub const WEIGHTS: &str = "model.safetensors";
/// Shard index name.
pub const INDEX: &str = "model.safetensors.index.json";

fn kind_of(dtype: Dtype, file: &Path, name: &str) -> Result<Kind> {
    Ok(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F16 => Kind::Half,
        Dtype::F64 => Kind::Double,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        other => {
            return Err(ModelError::checkpoint(
                file,
                format!("tensor `{name}` has unsupported dtype {other:?}"),
            ))
        }
    })
}

fn dtype_of(kind: Kind, name: &str) -> Result<Dtype> {
    Ok(match kind {
        Kind::Float => Dtype::F32,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Half => Dtype::F16,
        Kind::Double => Dtype::F64,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        other => {
            return Err(ModelError::option(
                "dtype",
                format!("cannot save tensor `{name}` of kind {other:?}"),
            ))
        }
    })
}

/// Reads one safetensors file into CPU tensors.
pub fn read_file(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| ModelError::checkpoint(path, format!("not a safetensors file: {e}")))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let kind = kind_of(view.dtype(), path, &name)?;
        let shape: Vec<i64> = view.shape().iter().map(|&s| s as i64).collect();
        let t = Tensor::f_from_data_size(view.data(), &shape, kind)?;
        out.push((name, t));
    }
    Ok(out)
}

/// Reads every tensor of a checkpoint folder (single file or sharded).
pub fn read_dir(dir: &Path) -> Result<HashMap<String, Tensor>> {
    let index = dir.join(INDEX);
    let files: Vec<String> = if index.exists() {
        let text = std::fs::read_to_string(&index).map_err(|e| ModelError::io(&index, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| ModelError::Json {
            path: index.clone(),
            line: e.line(),
            column: e.column(),
            field: ".".into(),
            message: e.to_string(),
        })?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| ModelError::Config {
                path: index.clone(),
                field: "weight_map".into(),
                message: "missing or not an object".into(),
            })?;
        let mut files: Vec<String> = map
            .values()
            .map(|f| f.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| ModelError::Config {
                path: index.clone(),
                field: "weight_map".into(),
                message: "values must be file names".into(),
            })?;
        files.sort();
        files.dedup();
        files
    } else if dir.join(WEIGHTS).exists() {
        vec![WEIGHTS.to_string()]
    } else {
        return Err(ModelError::checkpoint(
            dir,
            format!("neither {WEIGHTS} nor {INDEX} found"),
        ));
    };
    let mut all = HashMap::new();
    for f in files {
        for (name, t) in read_file(&dir.join(&f))? {
            all.insert(name, t);
        }
    }
    Ok(all)
}

struct Host {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Host {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn to_host(name: &str, t: &Tensor) -> Result<Host> {
    let t = t.f_to_device(tch::Device::Cpu)?.f_contiguous()?;
    let dtype = dtype_of(t.kind(), name)?;
    let numel = t.numel();
    let mut bytes = vec![0u8; numel * t.kind().elt_size_in_bytes()];
    t.f_copy_data_u8(&mut bytes, numel)?;
    Ok(Host {
        dtype,
        shape: t.size().iter().map(|&s| s as usize).collect(),
        bytes,
    })
}

fn write_one(path: &Path, tensors: &[(String, Host)]) -> Result<()> {
    let tmp = turnwise_core::jsonl::tmp_path(path);
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let views = tensors.iter().map(|(n, h)| (n.as_str(), h));
    safetensors::tensor::serialize_to_file(views, Some(meta), &tmp)
        .map_err(|e| ModelError::checkpoint(path, format!("cannot write: {e}")))?;
    std::fs::rename(&tmp, path).map_err(|e| ModelError::io(path, e))
}

/// Writes `tensors` into one safetensors file, atomically.
pub fn write_file(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let mut host = Vec::with_capacity(tensors.len());
    for (n, t) in tensors {
        host.push((n.clone(), to_host(n, t)?));
    }
    write_one(path, &host)
}

/// Writes `tensors` into `dir` as `model.safetensors`, or as shards of at most
/// `max_shard_bytes` plus `model.safetensors.index.json` when they do not fit in one.
/// Each file appears atomically; stale weight files of the other layout are removed.
pub fn write_dir(dir: &Path, tensors: &[(String, Tensor)], max_shard_bytes: usize) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let mut host = Vec::with_capacity(tensors.len());
    for (n, t) in tensors {
        host.push((n.clone(), to_host(n, t)?));
    }
    host.sort_by(|a, b| a.0.cmp(&b.0));
    let total: usize = host.iter().map(|(_, h)| h.bytes.len()).sum();
    let mut shards: Vec<Vec<(String, Host)>> = vec![vec![]];
    let mut size = 0;
    for (n, h) in host {
        if size > 0 && size + h.bytes.len() > max_shard_bytes {
            shards.push(vec![]);
            size = 0;
        }
        size += h.bytes.len();
        shards.last_mut().expect("one shard").push((n, h));
    }
    if shards.len() == 1 {
        write_one(&dir.join(WEIGHTS), &shards[0])?;
        let _ = std::fs::remove_file(dir.join(INDEX));
        return Ok(());
    }
    let n = shards.len();
    let mut weight_map = BTreeMap::new();
    for (i, shard) in shards.iter().enumerate() {
        let file = format!("model-{:05}-of-{:05}.safetensors", i + 1, n);
        for (name, _) in shard {
            weight_map.insert(name.clone(), file.clone());
        }
        write_one(&dir.join(&file), shard)?;
    }
    let index = serde_json::json!({"metadata": {"total_size": total}, "weight_map": weight_map});
    let text = serde_json::to_string_pretty(&index).expect("index serialises");
    let path = dir.join(INDEX);
    turnwise_core::jsonl::write_atomic(&path, text.as_bytes())
        .map_err(|e| ModelError::checkpoint(&path, e.to_string()))?;
    let _ = std::fs::remove_file(dir.join(WEIGHTS));
    Ok(())
}
