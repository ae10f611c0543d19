//! Tensor data of a GGUF file as libtorch tensors. F32, F16 and BF16 are taken as they are;
//! block-quantised types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K … Q6_K) are dequantised to f32 by
//! candle-core's `quantized` module, Hugging Face's implementation of ggml's reference
//! kernels (`dequantize_row_*`), which we use rather than re-deriving the block layouts.

use super::file::{type_name, GgufFile, TensorInfo};
use crate::error::Result;
use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType};
use tch::{Kind, Tensor};

/// The candle type of a ggml type id, for the types turnwise dequantises.
fn candle_type(id: u32) -> Option<GgmlDType> {
    Some(match id {
        2 => GgmlDType::Q4_0,
        3 => GgmlDType::Q4_1,
        6 => GgmlDType::Q5_0,
        7 => GgmlDType::Q5_1,
        8 => GgmlDType::Q8_0,
        10 => GgmlDType::Q2K,
        11 => GgmlDType::Q3K,
        12 => GgmlDType::Q4K,
        13 => GgmlDType::Q5K,
        14 => GgmlDType::Q6K,
        _ => return None,
    })
}

/// The tensor types [`read_tensor`] accepts, for error messages.
pub const SUPPORTED: &str =
    "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K";

/// Whether [`read_tensor`] can read a tensor of this type.
pub fn is_supported(type_id: u32) -> bool {
    matches!(type_id, 0 | 1 | 30) || candle_type(type_id).is_some()
}

/// Reads one tensor as a CPU tensor of its row-major shape: f32/f16/bf16 as stored, quantised
/// types dequantised to f32.
pub fn read_tensor(file: &GgufFile, t: &TensorInfo) -> Result<Tensor> {
    let what = format!("tensor `{}`", t.name);
    if !is_supported(t.type_id) {
        return Err(file.err(
            &what,
            format!(
                "type {} is not supported ({SUPPORTED})",
                type_name(t.type_id)
            ),
        ));
    }
    let raw = file.raw(t)?;
    let shape = t.shape();
    let native = match t.type_id {
        0 => Some(Kind::Float),
        1 => Some(Kind::Half),
        30 => Some(Kind::BFloat16),
        _ => None,
    };
    if let Some(kind) = native {
        return Ok(Tensor::f_from_data_size(&raw, &shape, kind)?);
    }
    let ty = candle_type(t.type_id).expect("checked above");
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let cpu = candle_core::Device::Cpu;
    let values: Vec<f32> = qtensor_from_ggml(ty, &raw, dims, &cpu)
        .and_then(|q| q.dequantize(&cpu))
        .and_then(|x| x.flatten_all())
        .and_then(|x| x.to_vec1())
        .map_err(|e| file.err(&what, format!("cannot dequantise: {e}")))?;
    Ok(Tensor::f_from_slice(&values)?.f_view(shape.as_slice())?)
}
