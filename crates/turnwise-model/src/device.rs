//! Device (`cpu`, `cuda`, `cuda:N`) and dtype (`f32`, `bf16`, `f16`) selection.

use crate::error::{ModelError, Result};
use tch::{Device, Kind};

/// Parses `cpu`, `cuda` (GPU 0) or `cuda:N`; a CUDA device must exist at run time. Asking
/// for `cuda` first loads libtorch's CUDA library ([`crate::cuda::load_backend`]).
pub fn parse_device(s: &str) -> Result<Device> {
    let dev = match s.trim() {
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => Device::Cuda(n),
            _ => {
                return Err(ModelError::option(
                    "device",
                    format!("`{s}` is not a device (cpu, cuda, cuda:N)"),
                ))
            }
        },
    };
    if let Device::Cuda(n) = dev {
        crate::cuda::load_backend()?;
        let count = tch::Cuda::device_count();
        if n as i64 >= count {
            return Err(ModelError::option(
                "device",
                format!("`{s}` requested but libtorch sees {count} CUDA device(s)"),
            ));
        }
    }
    Ok(dev)
}

/// The floating-point type of the weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// bfloat16 (norms, softmax and rotary tables are computed in f32, as in `transformers`).
    Bf16,
    /// IEEE half precision (computed like bf16; its range is narrower).
    F16,
    /// 64-bit float, for gradient checks in tests.
    F64,
}

impl DType {
    /// Parses `f32`/`float32`, `bf16`/`bfloat16`, `f16`/`float16` or `f64`/`float64`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "f32" | "float32" => Ok(DType::F32),
            "bf16" | "bfloat16" => Ok(DType::Bf16),
            "f16" | "float16" => Ok(DType::F16),
            "f64" | "float64" => Ok(DType::F64),
            _ => Err(ModelError::option(
                "dtype",
                format!("`{s}` is not a dtype (f32, bf16, f16)"),
            )),
        }
    }

    /// The name `parse` reads (`f32`, `bf16`, `f16`, `f64`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::Bf16 => "bf16",
            DType::F16 => "f16",
            DType::F64 => "f64",
        }
    }

    /// Whether this is a 16-bit type (trained with f32 master weights).
    pub fn is_half(self) -> bool {
        matches!(self, DType::Bf16 | DType::F16)
    }

    /// The libtorch kind.
    pub fn kind(self) -> Kind {
        match self {
            DType::F32 => Kind::Float,
            DType::Bf16 => Kind::BFloat16,
            DType::F16 => Kind::Half,
            DType::F64 => Kind::Double,
        }
    }

    /// The `torch_dtype` name written into config.json.
    pub fn hf_name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::Bf16 => "bfloat16",
            DType::F16 => "float16",
            DType::F64 => "float64",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices_and_dtypes() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert!(parse_device("tpu")
            .unwrap_err()
            .to_string()
            .contains("device"));
        assert!(parse_device("cuda:x").is_err());
        if tch::Cuda::device_count() == 0 {
            let e = parse_device("cuda:0").unwrap_err().to_string();
            assert!(e.contains("0 CUDA device"), "{e}");
        }
        assert_eq!(DType::parse("bf16").unwrap().kind(), Kind::BFloat16);
        assert_eq!(DType::parse("f16").unwrap().kind(), Kind::Half);
        for d in [DType::F32, DType::Bf16, DType::F16, DType::F64] {
            assert_eq!(DType::parse(d.name()).unwrap(), d);
        }
        assert!(DType::parse("f8").is_err());
    }
}
