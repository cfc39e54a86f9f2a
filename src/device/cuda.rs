//! The CUDA device: one context per rank on its chosen GPU, several streams, kernels
//! compiled at start-up by NVRTC from the embedded `.cu` sources, cuBLAS for `matmul` and the
//! Cholesky tile updates (`gemm_nt`, `syrk`, `trsm`), cuSOLVER for `potrf` where its library
//! loads (else `potrf` reports `Unsupported` and runs on the CPU).
//!
//! Stencils (`life_step`, `heat_step`, `conv2d`): `pad_*` (halo.cu) assembles the padded tile
//! on the device from the tile and its strip arrays (numbers become constant sides), then the
//! step kernel runs on the padded array, so the device reads exactly what the CPU's `Halo`
//! reads. The padded array is a temporary of the launch (not counted by the memory manager;
//! it is the tile's size plus its halo).
//!
//! Copies between host and device go through `pinned::PinnedPool`, a small pool of reused
//! page-locked buffers (see there), so they run asynchronously on the calling thread's stream
//! and overlap kernels on the other streams.
//!
//! Streams: a call runs on the stream of the calling worker thread (thread index modulo the
//! stream count), so tasks on different threads overlap their copies and kernels. Every call
//! synchronises its stream before returning, so an array is complete when a call hands it on
//! and may be read from any stream afterwards.
//!
//! Nothing here runs without libcuda: `CudaDevice::open` checks the driver, NVRTC and cuBLAS
//! libraries can be loaded before touching cudarc (which panics when they cannot).

use super::nvrtc::{self, SOURCES};
use super::pinned::{typed, PinnedPool, Plain};
use super::{supports, Device, DeviceArray, DeviceError, DeviceInput, DeviceOutput};
use crate::graph::{Array, DType, Data, Op};
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::cusolver::DnHandle;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DeviceRepr, LaunchConfig, PushKernelArg,
    ValidAsZeroBits,
};
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};

mod ops;
mod tiles;

/// Fraction of the free device memory (at open) dirk lets its cache and results use.
const MEMORY_SHARE: f64 = 0.9;
/// Threads per block of the elementwise kernels.
const BLOCK: u32 = 256;
/// Upper bound on blocks (the kernels loop over the rest).
const MAX_BLOCKS: u32 = 4096;

/// A device array's storage.
enum Buf {
    F64(CudaSlice<f64>),
    F32(CudaSlice<f32>),
    I64(CudaSlice<i64>),
    U8(CudaSlice<u8>),
}

/// A GPU this rank drives.
pub struct CudaDevice {
    ordinal: usize,
    name: String,
    capacity: usize,
    streams: Vec<Arc<CudaStream>>,
    blas: Vec<Mutex<CudaBlas>>,
    /// cuSOLVER handles, one per stream; `None` when libcusolver cannot be loaded.
    solver: Option<Vec<Mutex<DnHandle>>>,
    functions: FxHashMap<&'static str, CudaFunction>,
    pinned: PinnedPool,
}

fn cuda<E: std::fmt::Debug>(e: E) -> DeviceError {
    DeviceError::Cuda(format!("{e:?}"))
}

/// True when the CUDA driver library can be loaded.
pub(crate) fn driver_present() -> bool {
    // SAFETY: only tries to dlopen libcuda by its usual names; no symbol is called.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// True when the cuBLAS library can be loaded.
fn cublas_present() -> bool {
    // SAFETY: only tries to dlopen libcublas by its usual names; no symbol is called.
    unsafe { cudarc::cublas::sys::is_culib_present() }
}

/// True when the cuSOLVER library (and the cuBLASLt and cuSPARSE it links) can be loaded.
fn cusolver_present() -> bool {
    // SAFETY: only tries to dlopen libcusolver by its usual names; no symbol is called.
    unsafe { cudarc::cusolver::sys::is_culib_present() }
}

/// GPUs the driver shows this process (after `CUDA_VISIBLE_DEVICES`); an error says why none.
pub(crate) fn device_count() -> Result<usize, String> {
    if !driver_present() {
        return Err("no CUDA driver library (libcuda.so) on this node".into());
    }
    match CudaContext::device_count() {
        Ok(n) => Ok(n.max(0) as usize),
        Err(e) => Err(format!("the CUDA driver reports {e:?}")),
    }
}

impl CudaDevice {
    /// Opens GPU `ordinal` with `streams` streams and compiles the kernels for it.
    pub fn open(ordinal: usize, streams: usize) -> Result<CudaDevice, DeviceError> {
        if !driver_present() {
            return Err(DeviceError::Cuda("libcuda.so cannot be loaded".into()));
        }
        if !nvrtc::available() {
            return Err(DeviceError::Cuda("libnvrtc.so cannot be loaded".into()));
        }
        if !cublas_present() {
            return Err(DeviceError::Cuda("libcublas.so cannot be loaded".into()));
        }
        let ctx = CudaContext::new(ordinal).map_err(cuda)?;
        let name = ctx.name().map_err(cuda)?;
        let (major, minor) = ctx.compute_capability().map_err(cuda)?;
        // NVRTC wants a 'static architecture name; one per process and GPU.
        let arch: &'static str = Box::leak(format!("compute_{major}{minor}").into_boxed_str());
        let (free, _total) = ctx.mem_get_info().map_err(cuda)?;
        let mut functions = FxHashMap::default();
        for src in SOURCES {
            if src.kernels.is_empty() {
                continue;
            }
            let module = ctx.load_module(nvrtc::compile(src, arch)?).map_err(cuda)?;
            for &k in src.kernels {
                functions.insert(k, module.load_function(k).map_err(cuda)?);
            }
        }
        let streams = (0..streams.max(1))
            .map(|_| ctx.new_stream().map_err(cuda))
            .collect::<Result<Vec<_>, _>>()?;
        let blas = streams
            .iter()
            .map(|s| CudaBlas::new(Arc::clone(s)).map(Mutex::new).map_err(cuda))
            .collect::<Result<Vec<_>, _>>()?;
        // Without cuSOLVER (library missing, or it will not start) only `potrf` is lost: it
        // reports `Unsupported` and runs on the CPU.
        let solver = if cusolver_present() {
            streams
                .iter()
                .map(|s| DnHandle::new(Arc::clone(s)).map(Mutex::new))
                .collect::<Result<Vec<_>, _>>()
                .ok()
        } else {
            None
        };
        Ok(CudaDevice {
            ordinal,
            name,
            capacity: (free as f64 * MEMORY_SHARE) as usize,
            streams,
            blas,
            solver,
            functions,
            pinned: PinnedPool::new(ctx),
        })
    }

    fn stream_index(&self) -> usize {
        rayon::current_thread_index().unwrap_or(0) % self.streams.len()
    }

    fn function(&self, name: &str) -> Result<&CudaFunction, DeviceError> {
        self.functions
            .get(name)
            .ok_or_else(|| DeviceError::Unsupported(format!("kernel {name}")))
    }

    fn config(n: usize) -> LaunchConfig {
        let blocks = (n.div_ceil(BLOCK as usize) as u32).clamp(1, MAX_BLOCKS);
        LaunchConfig {
            grid_dim: (blocks, 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        }
    }
}

/// An element type with a device buffer variant.
trait Elem: DeviceRepr + ValidAsZeroBits + Plain + Unpin + 'static {
    const NAME: &'static str;
    const DTYPE: DType;
    fn wrap(s: CudaSlice<Self>) -> Buf;
    fn unwrap(b: &Buf) -> &CudaSlice<Self>;
    fn from_f64(x: f64) -> Self;
}

macro_rules! elem {
    ($t:ty, $v:ident, $name:literal) => {
        impl Elem for $t {
            const NAME: &'static str = $name;
            const DTYPE: DType = DType::$v;
            fn wrap(s: CudaSlice<Self>) -> Buf {
                Buf::$v(s)
            }
            fn unwrap(b: &Buf) -> &CudaSlice<Self> {
                match b {
                    Buf::$v(s) => s,
                    _ => panic!("device buffer of another dtype than {}", $name),
                }
            }
            fn from_f64(x: f64) -> Self {
                x as $t
            }
        }
    };
}

elem!(f64, F64, "f64");
elem!(f32, F32, "f32");
elem!(i64, I64, "i64");
elem!(u8, U8, "u8");

/// An f64 result array of `shape`.
fn made_f64(shape: Vec<usize>, b: CudaSlice<f64>) -> Result<DeviceOutput, DeviceError> {
    Ok(DeviceOutput::Array(DeviceArray::new(
        shape,
        DType::F64,
        Box::new(Buf::F64(b)),
    )))
}

fn buf(a: &DeviceArray) -> &Buf {
    a.buffer::<Buf>()
        .expect("a CUDA device array holds a CUDA buffer")
}

impl CudaDevice {
    /// Copies `v` to a new device buffer through a pinned staging buffer (or straight from
    /// pageable memory when too large to stage). Empty arrays are stored as one element
    /// (CUDA refuses empty allocations).
    fn upload_typed<T: Elem>(&self, v: &[T]) -> Result<Buf, DeviceError> {
        let s = &self.streams[self.stream_index()];
        if v.is_empty() {
            return Ok(T::wrap(s.alloc_zeros::<T>(1).map_err(cuda)?));
        }
        // SAFETY: the buffer is uninitialised until the copy below fills all of it, and it is
        // not read before the stream is synchronised.
        let mut d = unsafe { s.alloc::<T>(v.len()) }.map_err(cuda)?;
        match self.pinned.take(std::mem::size_of_val(v))? {
            Some(mut p) => {
                let stage = typed::<T>(&mut p, v.len())?;
                stage.copy_from_slice(v);
                s.memcpy_htod(&*stage, &mut d).map_err(cuda)?;
                s.synchronize().map_err(cuda)?;
                self.pinned.give(p);
            }
            None => {
                s.memcpy_htod(v, &mut d).map_err(cuda)?;
                s.synchronize().map_err(cuda)?;
            }
        }
        Ok(T::wrap(d))
    }

    /// The first `n` elements of a device buffer, through a pinned staging buffer.
    fn download_typed<T: Elem>(&self, b: &Buf, n: usize) -> Result<Vec<T>, DeviceError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let s = &self.streams[self.stream_index()];
        let src = T::unwrap(b).slice(..n);
        match self.pinned.take(n * std::mem::size_of::<T>())? {
            Some(mut p) => {
                let stage = typed::<T>(&mut p, n)?;
                s.memcpy_dtoh(&src, stage).map_err(cuda)?;
                s.synchronize().map_err(cuda)?;
                let v = stage.to_vec();
                self.pinned.give(p);
                Ok(v)
            }
            None => s.clone_dtoh(&src).map_err(cuda),
        }
    }

    fn generate<T: Elem, P: DeviceRepr>(
        &self,
        kernel: String,
        n: usize,
        param: &P,
    ) -> Result<Buf, DeviceError> {
        let f = self.function(&kernel)?;
        let s = &self.streams[self.stream_index()];
        let mut out = s.alloc_zeros::<T>(n.max(1)).map_err(cuda)?;
        let n64 = n as u64;
        let mut b = s.launch_builder(f);
        b.arg(&mut out).arg(param).arg(&n64);
        // SAFETY: the kernel's signature is (T* out, <param>, unsigned long long n) as written
        // in rand.cu / fill.cu, `out` holds at least n elements, and the grid-stride loop
        // stays below n.
        unsafe { b.launch(Self::config(n)) }.map_err(cuda)?;
        s.synchronize().map_err(cuda)?;
        Ok(T::wrap(out))
    }

    fn binary<T: Elem>(
        &self,
        name: &str,
        a: &DeviceInput<'_>,
        b: &DeviceInput<'_>,
    ) -> Result<DeviceOutput, DeviceError> {
        let (shape, form) = match (a, b) {
            (DeviceInput::Array(x), DeviceInput::Array(_)) => (x.shape().to_vec(), "aa"),
            (DeviceInput::Array(x), DeviceInput::Number(_)) => (x.shape().to_vec(), "as"),
            (DeviceInput::Number(_), DeviceInput::Array(y)) => (y.shape().to_vec(), "sa"),
            _ => return Err(DeviceError::Unsupported(format!("{name} on two scalars"))),
        };
        let n: usize = shape.iter().product();
        let f = self.function(&format!("{name}_{}_{form}", T::NAME))?;
        let s = &self.streams[self.stream_index()];
        let mut out = s.alloc_zeros::<T>(n.max(1)).map_err(cuda)?;
        let n64 = n as u64;
        let scalar = |i: &DeviceInput<'_>| match i {
            DeviceInput::Number(x) => T::from_f64(*x),
            _ => T::from_f64(0.0),
        };
        let (sa, sb) = (scalar(a), scalar(b));
        let mut l = s.launch_builder(f);
        match a {
            DeviceInput::Array(x) => l.arg(T::unwrap(buf(x))),
            _ => l.arg(&sa),
        };
        match b {
            DeviceInput::Array(y) => l.arg(T::unwrap(buf(y))),
            _ => l.arg(&sb),
        };
        l.arg(&mut out);
        l.arg(&n64);
        // SAFETY: elementwise.cu's NAME_T_{aa,as,sa} take (a, b, T* out, unsigned long long n)
        // with a and b arrays of n elements of T or scalars of T as the form says; every array
        // here has n elements (shapes were checked when the graph was built).
        unsafe { l.launch(Self::config(n)) }.map_err(cuda)?;
        s.synchronize().map_err(cuda)?;
        Ok(DeviceOutput::Array(DeviceArray::new(
            shape,
            T::DTYPE,
            Box::new(T::wrap(out)),
        )))
    }

    /// `sum`: per-chunk sums on the device (sum.cu), then the chunk sums added left to right
    /// on the host: the CPU kernel's order exactly.
    fn sum<T: Elem>(&self, x: &DeviceArray) -> Result<DeviceOutput, DeviceError> {
        let n = x.len();
        let chunk = crate::kernels::CHUNK;
        let chunks = n.div_ceil(chunk);
        if chunks == 0 {
            return Ok(DeviceOutput::Scalar(0.0));
        }
        let f = self.function(&format!("sum_chunks_{}", T::NAME))?;
        let s = &self.streams[self.stream_index()];
        let mut partials = s.alloc_zeros::<f64>(chunks).map_err(cuda)?;
        let (n64, chunk64, chunks64) = (n as u64, chunk as u64, chunks as u64);
        let mut l = s.launch_builder(f);
        l.arg(T::unwrap(buf(x)))
            .arg(&n64)
            .arg(&chunk64)
            .arg(&mut partials)
            .arg(&chunks64);
        // SAFETY: sum_chunks_T takes (const T* x, n, chunk, double* partials, chunks); x has n
        // elements, partials has `chunks` = ceil(n / chunk), and the loop stays below both.
        unsafe { l.launch(Self::config(chunks)) }.map_err(cuda)?;
        let host = s.clone_dtoh(&partials).map_err(cuda)?;
        Ok(DeviceOutput::Scalar(
            host.iter().fold(0.0, |acc, &p| acc + p),
        ))
    }

    /// `matmul` through cuBLAS: row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ.
    fn matmul<T>(&self, a: &DeviceArray, b: &DeviceArray) -> Result<DeviceOutput, DeviceError>
    where
        T: Elem + From<u8>,
        CudaBlas: Gemm<T>,
    {
        let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
        let i = self.stream_index();
        let s = &self.streams[i];
        let mut c = s.alloc_zeros::<T>((m * n).max(1)).map_err(cuda)?;
        if m > 0 && n > 0 && k > 0 {
            let dim = |x: usize| {
                i32::try_from(x).map_err(|_| DeviceError::Unsupported("matmul above 2^31".into()))
            };
            let cfg = GemmConfig {
                transa: cublasOperation_t::CUBLAS_OP_N,
                transb: cublasOperation_t::CUBLAS_OP_N,
                m: dim(n)?,
                n: dim(m)?,
                k: dim(k)?,
                alpha: T::from(1u8),
                lda: dim(n)?,
                ldb: dim(k)?,
                beta: T::from(0u8),
                ldc: dim(n)?,
            };
            let blas = self.blas[i].lock().expect("cuBLAS handle lock");
            // SAFETY: column-major B (n x k, ld n), A (k x m, ld k) and C (n x m, ld n) are
            // exactly the row-major buffers of B (k x n), A (m x k) and C (m x n), each
            // allocated with those element counts; the handle is bound to stream i, which
            // also allocated C.
            unsafe { blas.gemm(cfg, T::unwrap(buf(b)), T::unwrap(buf(a)), &mut c) }
                .map_err(cuda)?;
        }
        s.synchronize().map_err(cuda)?;
        Ok(DeviceOutput::Array(DeviceArray::new(
            vec![m, n],
            T::DTYPE,
            Box::new(T::wrap(c)),
        )))
    }
}

impl Device for CudaDevice {
    fn describe(&self) -> String {
        format!(
            "GPU {} ({}, {} MiB for dirk, {} streams{})",
            self.ordinal,
            self.name,
            self.capacity >> 20,
            self.streams.len(),
            if self.solver.is_some() {
                ""
            } else {
                "; no cuSOLVER: potrf on CPU"
            }
        )
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn streams(&self) -> u32 {
        self.streams.len() as u32
    }

    fn upload(&self, a: &Array) -> Result<DeviceArray, DeviceError> {
        let b = match a.data() {
            Data::F64(v) => self.upload_typed(v)?,
            Data::F32(v) => self.upload_typed(v)?,
            Data::I64(v) => self.upload_typed(v)?,
            Data::U8(v) => self.upload_typed(v)?,
        };
        Ok(DeviceArray::new(a.shape().to_vec(), a.dtype(), Box::new(b)))
    }

    fn download(&self, a: &DeviceArray) -> Result<Array, DeviceError> {
        let b = buf(a);
        // Empty arrays are stored as one element (CUDA refuses empty allocations): copy the
        // array's own length only.
        let n = a.len();
        let data = match b {
            Buf::F64(_) => Data::F64(self.download_typed(b, n)?),
            Buf::F32(_) => Data::F32(self.download_typed(b, n)?),
            Buf::I64(_) => Data::I64(self.download_typed(b, n)?),
            Buf::U8(_) => Data::U8(self.download_typed(b, n)?),
        };
        Ok(Array::new(a.shape().to_vec(), data))
    }

    fn launch(&self, op: &Op, args: &[DeviceInput<'_>]) -> Result<DeviceOutput, DeviceError> {
        let dtype = super::launch_dtype(op, args);
        if !supports(op, dtype) {
            return Err(DeviceError::Unsupported(format!(
                "{op} on {}",
                dtype.name()
            )));
        }
        op.launch(self, dtype, args)
    }
}
