//! Loading libtorch's CUDA backend on demand.
//!
//! libtorch splits into a CPU library (`libtorch_cpu.so`) and a CUDA library
//! (`libtorch_cuda.so`), which registers the CUDA hooks, kernels and allocator from its
//! static initialisers. The PyPI wheel's CUDA library pulls in cuBLAS-Lt, cuFFT, cuSPARSE,
//! NCCL, nvJitLink and more; loading them costs ≈ 230 MB of resident memory before any tensor
//! exists (cuBLAS-Lt alone ≈ 150 MB of static initialisation), which a CPU run never uses.
//!
//! So the binaries do not carry `libtorch_cuda.so` as `NEEDED`. It is `dlopen`ed — with
//! `RTLD_GLOBAL`, so its registrations reach the already loaded `libtorch_cpu.so` — the first
//! time a `cuda` device is asked for ([`crate::parse_device`] calls [`load_backend`]).
//! ATen looks its CUDA hooks up once, on the first CUDA query, and keeps the answer
//! (`at::detail::getCUDAHooks`), so the library must be loaded before anything asks about
//! CUDA: every device string goes through [`crate::parse_device`] before a model exists.

use crate::error::{ModelError, Result};
use std::ffi::{CStr, CString};
use std::sync::OnceLock;

/// File name of libtorch's CUDA library.
pub const CUDA_LIBRARY: &str = "libtorch_cuda.so";

/// The libtorch `lib` folder this crate was linked against (set by build_support.rs).
const BUILD_LIB_DIR: &str = env!("TURNWISE_LIBTORCH_LIB");

static LOADED: OnceLock<std::result::Result<String, String>> = OnceLock::new();

/// Loads `libtorch_cuda.so` (once per process) and returns the path it was loaded from.
///
/// Tries the plain name first (the binary's RUNPATH, then `LD_LIBRARY_PATH`, so a GPU
/// machine's own libtorch wins when it is on the library path), then the folder the build
/// linked against. A CPU-only libtorch, or one whose CUDA libraries are missing, gives an
/// error naming both attempts and the fix.
pub fn load_backend() -> Result<String> {
    LOADED
        .get_or_init(|| {
            let candidates = [
                CUDA_LIBRARY.to_string(),
                format!("{BUILD_LIB_DIR}/{CUDA_LIBRARY}"),
            ];
            let mut errors = vec![];
            for c in &candidates {
                match dlopen_global(c) {
                    Ok(()) => return Ok(c.clone()),
                    Err(e) => errors.push(e),
                }
            }
            Err(format!(
                "cannot load libtorch's CUDA library: {}; the torch wheel from \
                 scripts/setup-torch.sh (torch==2.11.0, CUDA build) provides it",
                errors.join("; ")
            ))
        })
        .clone()
        .map_err(|m| ModelError::option("device", m))
}

/// Whether [`load_backend`] has loaded the CUDA library in this process.
pub fn backend_loaded() -> bool {
    matches!(LOADED.get(), Some(Ok(_)))
}

/// `dlopen(path, RTLD_NOW | RTLD_GLOBAL)`, keeping the handle for the life of the process.
fn dlopen_global(path: &str) -> std::result::Result<(), String> {
    let c = CString::new(path).map_err(|_| format!("{path}: path contains a NUL byte"))?;
    // SAFETY: `c` is a valid NUL-terminated string; the returned handle is never closed, so
    // the library's code and registrations stay valid for the rest of the process.
    let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        // SAFETY: dlerror returns NULL or a pointer to a NUL-terminated message owned by libc.
        let msg = unsafe {
            let e = libc::dlerror();
            if e.is_null() {
                "unknown dlopen error".to_string()
            } else {
                CStr::from_ptr(e).to_string_lossy().into_owned()
            }
        };
        return Err(msg);
    }
    Ok(())
}
