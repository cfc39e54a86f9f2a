//! What a GPU offers the kernel table: the device-side primitives a kernel's GPU function
//! (`registry::Builtin::launch`, in its own file under `kernels/`) is written against. The
//! CUDA device implements them (`cuda/ops.rs`); a kernel picks which to call with its params.

use super::{DeviceArray, DeviceError, DeviceInput, DeviceOutput};
use crate::graph::stencil::Frame;
use crate::graph::DType;

/// A result on the device, or why not.
pub type Launched = Result<DeviceOutput, DeviceError>;

/// The device-side primitives. Every call returns once its work is complete.
pub trait GpuOps {
    /// `rand(seed, shape)` of `dtype` (the CPU's counter-based bits).
    fn rand_array(&self, seed: u64, dtype: DType, shape: &[usize]) -> Launched;
    /// A constant array; `x` converts as the CPU kernel converts it.
    fn fill_array(&self, dtype: DType, shape: &[usize], x: f64) -> Launched;
    /// Elementwise `name` (`add`, `sub`, `mul`, `div`) of two arrays or an array and a number.
    fn elementwise(
        &self,
        name: &str,
        dtype: DType,
        a: &DeviceInput<'_>,
        b: &DeviceInput<'_>,
    ) -> Launched;
    /// The sum of every element, in the CPU kernel's fixed order.
    fn reduce_sum(&self, dtype: DType, x: &DeviceArray) -> Launched;
    /// The 2-D product (cuBLAS).
    fn product(&self, dtype: DType, a: &DeviceArray, b: &DeviceArray) -> Launched;
    /// One Life step of a u8 tile and its strips (`args` as the CPU kernel takes them).
    fn life_step(&self, args: &[DeviceInput<'_>], frame: Frame) -> Launched;
    /// One heat step of an f64 tile and its strips.
    fn heat_step(
        &self,
        args: &[DeviceInput<'_>],
        alpha: f64,
        global: &[usize],
        offset: &[usize],
    ) -> Launched;
    /// 2-D correlation of an f64 tile and its strips with `kernel` (`kshape`).
    fn conv2d_step(&self, args: &[DeviceInput<'_>], kshape: [usize; 2], kernel: &[f64])
        -> Launched;
    /// Cholesky factor of a tile (cuSOLVER).
    fn potrf_tile(&self, a: &DeviceArray) -> Launched;
    /// X with X·lᵀ = b (cuBLAS).
    fn trsm_tile(&self, l: &DeviceArray, b: &DeviceArray) -> Launched;
    /// c − a·aᵀ (cuBLAS).
    fn syrk_tile(&self, c: &DeviceArray, a: &DeviceArray) -> Launched;
    /// c − a·bᵀ (cuBLAS).
    fn gemm_nt_tile(&self, c: &DeviceArray, a: &DeviceArray, b: &DeviceArray) -> Launched;
}

/// Argument `i` of a launch as a shape literal (typed when the graph was built).
pub fn shape_arg<'a>(args: &[DeviceInput<'a>], i: usize) -> &'a [usize] {
    match args[i] {
        DeviceInput::Shape(s) => s,
        _ => panic!("args[{i}] should be a shape"),
    }
}

/// Argument `i` of a launch as an array on the device.
pub fn array_arg<'a>(args: &[DeviceInput<'a>], i: usize) -> &'a DeviceArray {
    match args[i] {
        DeviceInput::Array(a) => a,
        _ => panic!("args[{i}] should be an array"),
    }
}

/// Argument `i` of a launch as a number.
pub fn number_arg(args: &[DeviceInput<'_>], i: usize) -> f64 {
    match args[i] {
        DeviceInput::Number(x) => x,
        _ => panic!("args[{i}] should be a number"),
    }
}
