//! The CUDA backend is loaded on demand: a CPU process never maps libtorch's CUDA libraries,
//! and asking for a `cuda` device loads them and registers ATen's real CUDA hooks.
//!
//! One test in its own binary: the load is process-wide and cannot be undone.

use tch::{Device, Kind, Tensor};

fn mapped(name: &str) -> bool {
    std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .any(|l| l.ends_with(name) || l.contains(&format!("/{name}")))
}

#[test]
fn cuda_library_is_loaded_only_when_a_cuda_device_is_requested() {
    // CPU work first: nothing of CUDA may be mapped.
    let x = Tensor::f_ones([4, 4], (Kind::Float, Device::Cpu)).unwrap();
    let y = x.f_matmul(&x).unwrap();
    assert_eq!(y.double_value(&[0, 0]), 4.0);
    assert!(turnwise_model::parse_device("cpu").is_ok());
    for lib in ["libtorch_cuda.so", "libcublasLt.so.13", "libcufft.so.12"] {
        assert!(!mapped(lib), "{lib} is mapped in a CPU-only process");
    }
    assert!(!turnwise_model::cuda::backend_loaded());

    // Asking for CUDA loads the backend, whether or not this machine has a GPU.
    let dev = turnwise_model::parse_device("cuda");
    assert!(turnwise_model::cuda::backend_loaded());
    assert!(mapped("libtorch_cuda.so"), "libtorch_cuda.so not mapped");
    assert!(mapped("libcublasLt.so.13"), "cuBLAS-Lt not mapped");

    let count = tch::Cuda::device_count();
    match dev {
        Ok(d) => {
            // A GPU machine: a tensor round-trips through the device.
            assert!(count > 0);
            let g = Tensor::f_ones([3], (Kind::Float, d)).unwrap();
            let back = g.f_to_device(Device::Cpu).unwrap();
            assert_eq!(back.f_sum(Kind::Float).unwrap().double_value(&[]), 3.0);
        }
        Err(e) => {
            // No GPU: the error is about devices, and CUDA kernels are registered. Without the
            // library the same call fails with "Could not run 'aten::empty.memory_format' with
            // arguments from the 'CUDA' backend"; with it, with the driver's absence.
            assert_eq!(count, 0);
            assert!(e.to_string().contains("0 CUDA device"), "{e}");
            let err = Tensor::f_ones([1], (Kind::Float, Device::Cuda(0)))
                .expect_err("a CUDA tensor without a GPU");
            let msg = err.to_string();
            assert!(
                !msg.contains("from the 'CUDA' backend") && !msg.contains("ATen_cuda"),
                "CUDA hooks were not registered: {msg}"
            );
            eprintln!(
                "CUDA loaded, no device: {}",
                msg.lines().next().unwrap_or("")
            );
        }
    }
}
