//! The CUDA C sources of dirk's device kernels and their run-time compilation with NVRTC.
//!
//! Every `.cu` file under `src/device/kernels/` is embedded in the binary and compiled to PTX
//! when a rank opens its GPU, for that GPU's compute capability. The test
//! `every_kernel_source_compiles` compiles each one here too, without a GPU, whenever the
//! NVRTC library can be loaded (CI installs it from the `nvidia-cuda-nvrtc-cu12` wheel).

use super::DeviceError;
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions, Ptx};

/// One embedded CUDA C source file and the kernels dirk loads from it.
pub struct Source {
    /// File name under `src/device/kernels/`.
    pub file: &'static str,
    /// The CUDA C text.
    pub code: &'static str,
    /// Kernels dirk loads from it (empty for sources not yet wired to an op).
    pub kernels: &'static [&'static str],
}

macro_rules! source {
    ($file:literal, [$($k:literal),* $(,)?]) => {
        Source {
            file: $file,
            code: include_str!(concat!("kernels/", $file)),
            kernels: &[$($k),*],
        }
    };
}

/// Every kernel source.
pub const SOURCES: &[Source] = &[
    source!(
        "elementwise.cu",
        [
            "add_f64_aa",
            "add_f64_as",
            "add_f64_sa",
            "sub_f64_aa",
            "sub_f64_as",
            "sub_f64_sa",
            "mul_f64_aa",
            "mul_f64_as",
            "mul_f64_sa",
            "div_f64_aa",
            "div_f64_as",
            "div_f64_sa",
            "add_f32_aa",
            "add_f32_as",
            "add_f32_sa",
            "sub_f32_aa",
            "sub_f32_as",
            "sub_f32_sa",
            "mul_f32_aa",
            "mul_f32_as",
            "mul_f32_sa",
            "div_f32_aa",
            "div_f32_as",
            "div_f32_sa",
            "add_i64_aa",
            "add_i64_as",
            "add_i64_sa",
            "sub_i64_aa",
            "sub_i64_as",
            "sub_i64_sa",
            "mul_i64_aa",
            "mul_i64_as",
            "mul_i64_sa",
            "add_u8_aa",
            "add_u8_as",
            "add_u8_sa",
            "sub_u8_aa",
            "sub_u8_as",
            "sub_u8_sa",
            "mul_u8_aa",
            "mul_u8_as",
            "mul_u8_sa",
        ]
    ),
    source!(
        "sum.cu",
        [
            "sum_chunks_f64",
            "sum_chunks_f32",
            "sum_chunks_i64",
            "sum_chunks_u8"
        ]
    ),
    source!("fill.cu", ["fill_f64", "fill_f32", "fill_i64", "fill_u8"]),
    source!("rand.cu", ["rand_f64", "rand_f32", "rand_i64", "rand_u8"]),
    source!("halo.cu", ["pad_f64", "pad_u8"]),
    source!("life.cu", ["life_step"]),
    source!("heat.cu", ["heat_step"]),
    source!("conv2d.cu", ["conv2d_f64"]),
    source!("triangle.cu", ["mirror_lower_f64", "zero_upper_f64"]),
];

/// True when the NVRTC library can be loaded (checked before any NVRTC call: cudarc panics
/// when a dynamically loaded library is missing).
pub fn available() -> bool {
    // SAFETY: only tries to dlopen the library by its usual names; no symbol is called.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Compiles `src` to PTX for virtual architecture `arch` (such as `compute_80`). FMA
/// contraction is off, so float kernels round exactly as written.
pub fn compile(src: &Source, arch: &'static str) -> Result<Ptx, DeviceError> {
    if !available() {
        return Err(DeviceError::Cuda(
            "the NVRTC library (libnvrtc.so.12) cannot be loaded".into(),
        ));
    }
    let opts = CompileOptions {
        arch: Some(arch),
        fmad: Some(false),
        name: Some(src.file.into()),
        ..Default::default()
    };
    compile_ptx_with_opts(src.code, opts)
        .map_err(|e| DeviceError::Cuda(format!("NVRTC cannot compile {}: {e:?}", src.file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles every `.cu` file and checks each kernel dirk loads is in the PTX. Skipped, with
    /// a message, where NVRTC is absent (set LD_LIBRARY_PATH to the wheel's
    /// `nvidia/cuda_nvrtc/lib`; `.ci/test` does).
    #[test]
    fn every_kernel_source_compiles() {
        if !available() {
            println!(
                "SKIPPED every_kernel_source_compiles: NVRTC library not found \
                 (run .ci/setup and put target/nvrtc/nvidia/cuda_nvrtc/lib on LD_LIBRARY_PATH)"
            );
            if std::env::var_os("DIRK_REQUIRE_NVRTC").is_some() {
                panic!("DIRK_REQUIRE_NVRTC is set but NVRTC cannot be loaded");
            }
            return;
        }
        for src in SOURCES {
            let ptx = compile(src, "compute_80").unwrap_or_else(|e| panic!("{e}"));
            let text = ptx.to_src();
            for k in src.kernels {
                assert!(
                    text.contains(&format!(".entry {k}(")),
                    "{}: kernel {k} missing from the PTX",
                    src.file
                );
            }
        }
    }

    #[test]
    fn every_cu_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/device/kernels");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".cu"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = SOURCES.iter().map(|s| s.file.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }
}
