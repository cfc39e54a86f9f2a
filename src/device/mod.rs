//! Devices a rank runs tasks on besides its CPU threads: the `Device` trait the scheduler
//! talks to, its CUDA implementation (`cuda.rs`, through cudarc with dynamic loading) and a
//! host-backed implementation (`host.rs`) that keeps "device" memory in host RAM and runs the
//! CPU kernels, so the scheduler's GPU path is exercised where no GPU exists.
//!
//! Layers, bottom up:
//!
//! 1. `Device`: upload, download, launch one op on device arrays, report capacity. Knows
//!    nothing of tasks or slots.
//! 2. `memory::DeviceMemory`: the per-rank memory manager: device copies of slot values cached
//!    while valid, byte accounting against the device's capacity, LRU eviction of copies no
//!    running task uses. Values are written through to the host when a device task ends, so
//!    evicting a copy never loses data: eviction is dropping the device copy.
//! 3. `context::DeviceContext`: what the scheduler calls to run one task on the device:
//!    stage inputs (cache hit or upload), launch, download the result, cache it; fall back to
//!    the CPU kernel when the device lacks the kernel or memory runs short even after eviction.
//! 4. `cost::CostModel`: per-(op, device) time estimates, seeded with defaults and updated
//!    from measured timings; decides where a task without a device scope runs.
//! 5. `detect`: which GPU this rank takes (local rank modulo visible devices), `--gpus`.
//!
//! `unsafe` lives here (CUDA launches, cuBLAS and cuSOLVER calls, pinned staging buffers) and in `transport/mpi/ffi.rs` only; every
//! block carries a `// SAFETY:` note.

pub mod context;
pub mod cost;
mod cuda;
pub mod detect;
mod gpu_ops;
pub mod host;
pub mod memory;
pub mod nvrtc;
mod pinned;

pub use context::{DeviceContext, DeviceStats};
pub use cost::CostModel;
pub use cuda::CudaDevice;
pub use detect::{probe, select, GpuProbe};
pub use gpu_ops::{array_arg, number_arg, shape_arg, GpuOps, Launched};
pub use host::HostDevice;

use crate::graph::{DType, Op};
use std::any::Any;
use thiserror::Error;

/// Why a device operation did not happen.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum DeviceError {
    /// The device has no kernel for this op with these dtypes; the caller runs it on CPU.
    #[error("no device kernel for {0}")]
    Unsupported(String),
    /// Device memory is short even after evicting every cached copy not in use.
    #[error("device memory short: {need} bytes needed, {free} free of {capacity}")]
    OutOfMemory {
        /// Bytes the task needs on the device.
        need: usize,
        /// Bytes free after eviction.
        free: usize,
        /// The device's capacity for dirk.
        capacity: usize,
    },
    /// The CUDA driver, NVRTC or cuBLAS reported an error.
    #[error("CUDA: {0}")]
    Cuda(String),
    /// The kernel itself failed (for example an integer division by zero).
    #[error("{0}")]
    Kernel(String),
}

/// A dense array resident on a device. The payload is the implementation's own buffer type
/// (`CudaSlice` for CUDA, an `Array` in host RAM for the host-backed device).
pub struct DeviceArray {
    shape: Vec<usize>,
    dtype: DType,
    buf: Box<dyn Any + Send + Sync>,
}

impl DeviceArray {
    /// Wraps an implementation's buffer.
    pub fn new(shape: Vec<usize>, dtype: DType, buf: Box<dyn Any + Send + Sync>) -> DeviceArray {
        DeviceArray { shape, dtype, buf }
    }

    /// Extent along each axis, row-major.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Device bytes it occupies.
    pub fn bytes(&self) -> usize {
        self.len() * self.dtype.size()
    }

    /// The implementation's buffer, if it is of type `T`.
    pub fn buffer<T: 'static>(&self) -> Option<&T> {
        self.buf.downcast_ref()
    }
}

/// One positional argument of a device launch.
#[derive(Clone, Copy)]
pub enum DeviceInput<'a> {
    /// An array already on the device.
    Array(&'a DeviceArray),
    /// A number literal or a scalar value (scalars live on the host).
    Number(f64),
    /// A shape literal.
    Shape(&'a [usize]),
}

/// What a device launch produces.
pub enum DeviceOutput {
    /// An array left on the device.
    Array(DeviceArray),
    /// A scalar, already on the host (`sum`).
    Scalar(f64),
}

/// A place that runs ops on its own memory: a CUDA GPU, or host RAM standing in for one.
///
/// Implementations are shared by every worker thread of a rank; each call may come from any
/// thread. Every call returns only when its work is complete (the CUDA device synchronises its
/// stream), so an array returned by one call is ready for any later call on any stream.
pub trait Device: Send + Sync {
    /// One line saying what this is (`dirk info`, logs).
    fn describe(&self) -> String;
    /// Bytes of device memory dirk may use.
    fn capacity(&self) -> usize;
    /// Streams (independent queues) tasks are spread over.
    fn streams(&self) -> u32;
    /// Copies a host array to the device.
    fn upload(&self, a: &crate::graph::Array) -> Result<DeviceArray, DeviceError>;
    /// Copies a device array back to the host.
    fn download(&self, a: &DeviceArray) -> Result<crate::graph::Array, DeviceError>;
    /// Runs `op` on `args`; `Unsupported` when it has no kernel for these dtypes.
    fn launch(&self, op: &Op, args: &[DeviceInput<'_>]) -> Result<DeviceOutput, DeviceError>;
}

/// True when `op`'s kernel has a GPU function (for some dtype): a task scoped to the GPU
/// with any other op is rejected at planning time.
pub fn has_kernel(op: &Op) -> bool {
    op.gpu().is_some()
}

/// True when `op`'s GPU function gives the same bits as its CPU function (its record's
/// `Gpu::bit_identical`), so the rank may move a task without a device scope to the device
/// without changing any result (contract: results are bit-identical whatever the rank and
/// thread counts). cuBLAS and cuSOLVER sum in their own order, so `matmul` and the Cholesky
/// tile kernels go to the GPU only when scoped there.
pub fn bit_identical(op: &Op) -> bool {
    op.gpu().is_some_and(|g| g.bit_identical)
}

/// True when `op`'s GPU function covers arrays of `dtype` (its record's `Gpu::dtypes`; both
/// devices answer alike, so the host-backed device falls back to the CPU exactly where the
/// CUDA device would).
pub fn supports(op: &Op, dtype: DType) -> bool {
    op.gpu().is_some_and(|g| g.dtypes.contains(&dtype))
}

/// The dtype a launch works on: that of its first array argument, else the op's own.
pub(crate) fn launch_dtype(op: &Op, args: &[DeviceInput<'_>]) -> DType {
    args.iter()
        .find_map(|a| match a {
            DeviceInput::Array(x) => Some(x.dtype()),
            _ => None,
        })
        .unwrap_or(op.own_dtype().unwrap_or(DType::F64))
}
