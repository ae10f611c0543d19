// Shared build-script logic for every crate that links libtorch through `tch`
// (turnwise-model, turnwise-train, turnwise-cli). Each of those crates has a build.rs of
// three lines:
//
//     include!("../turnwise-model/build_support.rs");
//     fn main() { link_libtorch(); }
//
// What it does (see docs/model.md, "Building"):
// 1. Checks that `$LIBTORCH` (set to `<repo>/.torch` by .cargo/config.toml) is the torch
//    wheel tch 0.24 needs (version 2.11.0, read from `torch/version.py`), and otherwise
//    stops the build with one message naming the fix, `scripts/setup-torch.sh`. torch-sys's
//    own build script runs in parallel and fails later with a C++ compile error; this
//    message comes first.
// 2. Emits `-Wl,-rpath=<LIBTORCH>/lib` so binaries and test executables run without
//    LD_LIBRARY_PATH.
// 3. Does NOT keep `libtorch_cuda.so` NEEDED (rustc's default `--as-needed` drops it, tch-rs
//    issues #907/#980): loading it costs ~230 MB of RSS that CPU runs never use. Instead
//    turnwise-model's `cuda` module dlopens it when a `cuda` device is asked for; the folder
//    is passed to it as `TURNWISE_LIBTORCH_LIB` (a fallback after the RUNPATH search).

/// The torch version `tch = "=0.24.0"` is built against (torch-sys `TORCH_VERSION`).
const EXPECTED_TORCH_VERSION: &str = "2.11.0";

/// Why libtorch cannot be used, or its `lib` folder.
fn check_libtorch() -> Result<std::path::PathBuf, String> {
    let fix = "run `scripts/setup-torch.sh` (installs torch==2.11.0 into a cache venv and links it as `.torch`)";
    let root = match std::env::var("LIBTORCH") {
        Ok(v) => std::path::PathBuf::from(v),
        Err(_) => {
            return Err(format!(
                "LIBTORCH is not set (it comes from .cargo/config.toml; build from the turnwise repository): {fix}"
            ))
        }
    };
    let version_py = root.join("version.py");
    let text = std::fs::read_to_string(&version_py).map_err(|e| {
        format!(
            "libtorch not found: cannot read {} ({e}); {fix}",
            version_py.display()
        )
    })?;
    let version = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("__version__ = "))
        .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_string())
        .ok_or_else(|| format!("{}: no `__version__` line; {fix}", version_py.display()))?;
    let base = version.split('+').next().unwrap_or_default();
    if base != EXPECTED_TORCH_VERSION {
        return Err(format!(
            "{} is torch {version}, but tch 0.24 needs torch {EXPECTED_TORCH_VERSION}; {fix}",
            root.display()
        ));
    }
    let lib = root.join("lib");
    if !lib.join("libtorch_cpu.so").exists() {
        return Err(format!(
            "{} has no libtorch_cpu.so (broken torch install); {fix}",
            lib.display()
        ));
    }
    Ok(lib)
}

/// Checks libtorch and emits the link arguments described at the top of this file.
#[allow(dead_code)]
fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=../turnwise-model/build_support.rs");
    match check_libtorch() {
        Ok(lib) => {
            println!(
                "cargo:rerun-if-changed={}",
                lib.parent().unwrap_or(&lib).join("version.py").display()
            );
            println!("cargo:rustc-link-arg=-Wl,-rpath={}", lib.display());
            println!("cargo:rustc-env=TURNWISE_LIBTORCH_LIB={}", lib.display());
        }
        Err(msg) => {
            println!("cargo:warning=turnwise: {msg}");
            eprintln!("\nturnwise: {msg}\n");
            std::process::exit(1);
        }
    }
}
