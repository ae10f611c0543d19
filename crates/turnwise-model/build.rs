//! Links libtorch (rpath; CUDA is loaded on demand) after checking the `.torch` install; the logic
//! is shared with the other tch crates, see build_support.rs.
include!("build_support.rs");

fn main() {
    link_libtorch();
}
