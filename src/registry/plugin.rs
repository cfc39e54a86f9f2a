//! C, C++ and Fortran (`bind(C)`) kernel plugins: shared libraries that export
//! `dirk_plugin_v1` with the layout of `include/dirk_plugin.h` (mirrored here with
//! `#[repr(C)]`). A job names them with their SHA-256; every rank loads them before planning
//! (rank 0 while loading the job, the others when rank 0 broadcasts the list,
//! `runtime::bootstrap`), and never unloads them. Their kernels join the process's table
//! (`super::lookup`); a kernel call hands the inputs and a fresh output as DLPack `DLTensor`s
//! and the params as JSON text.
//!
//! It holds `unsafe` (listed in ARCHITECTURE.md's invariants): loading a library and calling
//! into it is the point of a plugin; each block says what it relies on.

use super::builder::{BoxError, ErasedFns};
use super::kernel::{Kernel, ParamBox, Signature};
use crate::graph::{Array, DType, Data, Value};
use crate::kernels::Input;
use smallvec::SmallVec;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

/// The layout versions this dirk reads.
pub const ABI_VERSION: u32 = 1;
const ERROR_BYTES: usize = 512;

#[repr(C)]
struct DlDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
struct DlDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
struct DlTensor {
    data: *mut c_void,
    device: DlDevice,
    ndim: i32,
    dtype: DlDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

#[repr(C)]
struct Context {
    abi_version: u32,
    rank: i32,
    threads: i32,
    cuda_stream: *mut c_void,
    error: [c_char; ERROR_BYTES],
}

type CpuFn =
    unsafe extern "C" fn(*const DlTensor, i32, *mut DlTensor, *const c_char, *mut Context) -> c_int;

#[repr(C)]
struct CKernel {
    name: *const c_char,
    args: *const c_char,
    arity: i32,
    cpu: Option<CpuFn>,
}

#[repr(C)]
struct CPlugin {
    abi_version: u32,
    n_kernels: u32,
    kernels: *const CKernel,
}

/// One loaded plugin file.
struct Loaded {
    path: String,
    sha256: String,
    kernels: Vec<Arc<Kernel>>,
}

static LOADED: Mutex<Vec<Loaded>> = Mutex::new(Vec::new());
/// This process's MPI rank, for `dirk_context.rank` (set at start-up).
static RANK: AtomicI32 = AtomicI32::new(0);

/// Records this process's rank for the kernels' context.
pub(crate) fn set_rank(rank: i32) {
    RANK.store(rank, Ordering::Relaxed);
}

/// The loaded plugins as (path, sha256), in load order: what rank 0 broadcasts.
pub fn loaded() -> Vec<(String, String)> {
    let l = LOADED.lock().expect("plugins lock");
    l.iter()
        .map(|p| (p.path.clone(), p.sha256.clone()))
        .collect()
}

/// A kernel of a loaded plugin.
pub(super) fn find(name: &str) -> Option<Arc<Kernel>> {
    let l = LOADED.lock().expect("plugins lock");
    l.iter()
        .flat_map(|p| &p.kernels)
        .find(|k| k.name() == name)
        .cloned()
}

/// Every plugin kernel, in load order.
pub(super) fn kernels() -> Vec<Arc<Kernel>> {
    let l = LOADED.lock().expect("plugins lock");
    l.iter().flat_map(|p| p.kernels.iter().cloned()).collect()
}

/// Loads the plugin at `path` if its SHA-256 is `sha256` (hex, any case) and registers its
/// kernels; loading the same file again does nothing. Says what is wrong otherwise.
pub fn load(path: &Path, sha256: &str) -> Result<(), String> {
    let shown = path.display().to_string();
    let mut l = LOADED.lock().expect("plugins lock");
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read plugin {shown}: {e}"))?;
    let actual = super::sha256::hex(&bytes);
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(format!(
            "plugin {shown} has SHA-256 {actual}, the job names {sha256}: another build of it?"
        ));
    }
    if l.iter().any(|p| p.path == shown && p.sha256 == actual) {
        return Ok(());
    }
    // SAFETY: loading runs the library's initialisers; a plugin is code the job's author
    // chose to run, identified by its SHA-256. The library is never unloaded (leaked), so
    // every function pointer taken from it stays valid for the process's lifetime.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("cannot load plugin {shown}: {e}"))?;
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // SAFETY: `dirk_plugin_v1` has the signature `include/dirk_plugin.h` declares.
    let entry = unsafe { lib.get::<unsafe extern "C" fn() -> *const CPlugin>(b"dirk_plugin_v1\0") }
        .map_err(|_| format!("plugin {shown} has no symbol dirk_plugin_v1"))?;
    // SAFETY: the entry point takes nothing and returns a table that lives as long as the
    // library (the header's contract).
    let table = unsafe { entry() };
    // SAFETY: checked non-null; the table is a `dirk_plugin` of the header's layout.
    let table = unsafe { table.as_ref() }
        .ok_or_else(|| format!("plugin {shown}: dirk_plugin_v1 returned NULL"))?;
    if table.abi_version == 0 || table.abi_version > ABI_VERSION {
        return Err(format!(
            "plugin {shown} has ABI version {}; this dirk reads 1 to {ABI_VERSION}",
            table.abi_version
        ));
    }
    let mut kernels = Vec::new();
    for i in 0..table.n_kernels as usize {
        // SAFETY: `kernels` points to `n_kernels` records (the header's contract).
        let k = unsafe { &*table.kernels.add(i) };
        let text = |p: *const c_char, what: &str| -> Result<String, String> {
            if p.is_null() {
                return Err(format!("plugin {shown}: kernel {i} has no {what}"));
            }
            // SAFETY: non-null, a NUL-terminated string in the library's data.
            Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        };
        let name = text(k.name, "name")?;
        if let Some(why) = super::name_problem(&name) {
            return Err(format!("plugin {shown}: kernel name {name:?}: {why}"));
        }
        let taken = l.iter().flat_map(|p| &p.kernels).any(|k| k.name() == name)
            || kernels.iter().any(|k: &Arc<Kernel>| k.name() == name);
        if super::global().get(&name).is_some() || taken {
            return Err(format!(
                "plugin {shown}: kernel {name} is already registered"
            ));
        }
        let args = text(k.args, "args").unwrap_or_else(|_| "[..]".into());
        let cpu = k
            .cpu
            .ok_or_else(|| format!("plugin {shown}: kernel {name} has no cpu function"))?;
        let sig = Signature {
            args,
            arity: usize::try_from(k.arity).ok(),
            dtypes: Vec::new(),
        };
        let origin = format!("plugin {shown} sha256 {actual}");
        kernels.push(Arc::new(Kernel::plugin(
            &name,
            sig,
            erased(name.clone(), cpu),
            origin,
        )));
    }
    l.push(Loaded {
        path: shown,
        sha256: actual,
        kernels,
    });
    Ok(())
}

/// A plugin kernel as the table's functions: params kept as JSON text, the result typed
/// like the first array argument.
fn erased(name: String, cpu: CpuFn) -> ErasedFns {
    ErasedFns {
        parse: Box::new(|json| {
            let text = CString::new(json.to_string()).map_err(|e| e.to_string())?;
            Ok(Arc::new(text) as ParamBox)
        }),
        shape: Box::new(|args, _| {
            args.iter()
                .find_map(|a| match a {
                    crate::graph::ArgType::Value(t @ crate::graph::ValueType::Array { .. }) => {
                        Some((*t).clone())
                    }
                    _ => None,
                })
                .ok_or_else(|| "a plugin kernel's result is typed like its first array argument, and it has none".into())
        }),
        cpu: Box::new(move |args, params| {
            let json = params
                .downcast_ref::<CString>()
                .expect("a plugin kernel's params are JSON text");
            call(&name, cpu, args, json)
        }),
        cost: Box::new(|out, _| 1_000.0 + out.len() as f64),
    }
}

fn dl_dtype(d: DType) -> DlDataType {
    let (code, bits) = match d {
        DType::F64 => (2, 64),
        DType::F32 => (2, 32),
        DType::I64 => (0, 64),
        DType::U8 => (1, 8),
    };
    DlDataType {
        code,
        bits,
        lanes: 1,
    }
}

fn data_ptr(d: &Data) -> *mut c_void {
    match d {
        Data::F64(v) => v.as_ptr() as *mut c_void,
        Data::F32(v) => v.as_ptr() as *mut c_void,
        Data::I64(v) => v.as_ptr() as *mut c_void,
        Data::U8(v) => v.as_ptr() as *mut c_void,
    }
}

fn data_mut_ptr(d: &mut Data) -> *mut c_void {
    match d {
        Data::F64(v) => v.as_mut_ptr() as *mut c_void,
        Data::F32(v) => v.as_mut_ptr() as *mut c_void,
        Data::I64(v) => v.as_mut_ptr() as *mut c_void,
        Data::U8(v) => v.as_mut_ptr() as *mut c_void,
    }
}

fn zeros(d: DType, n: usize) -> Data {
    match d {
        DType::F64 => Data::F64(vec![0.0; n]),
        DType::F32 => Data::F32(vec![0.0; n]),
        DType::I64 => Data::I64(vec![0; n]),
        DType::U8 => Data::U8(vec![0; n]),
    }
}

/// Arguments a call holds without allocating: their tensors and scalars live on the stack,
/// a longer list spills to the heap.
const INLINE_ARGS: usize = 4;
/// Extents (input shapes, shape literals' values and the output's shape, all together) a
/// call holds on the stack.
const INLINE_DIMS: usize = 16;

/// Where argument `i`'s extents and its shape literal's values sit in a call's `dims`.
#[derive(Clone, Copy)]
struct Span {
    shape: usize,
    ndim: usize,
    values: usize,
}

/// Calls a plugin kernel: DLTensors over the inputs (numbers as 0-d f64, shapes as 1-d
/// i64), a zeroed output typed like the first array input. Nothing is allocated but the
/// output (its elements and its shape, as any kernel's result) while the arguments fit
/// `INLINE_ARGS` and `INLINE_DIMS`; the params' text was made when they were parsed.
fn call(name: &str, cpu: CpuFn, args: &[Input<'_>], json: &CStr) -> Result<Value, BoxError> {
    let first = args
        .iter()
        .find_map(|a| match a {
            Input::Value(Value::Array(x)) => Some(x),
            _ => None,
        })
        .ok_or("a plugin kernel needs an array argument")?;
    // Storage the tensors point into, complete before any pointer is taken: every extent
    // in one buffer (each argument's shape, then a shape literal's values), the output's
    // shape last; one scalar slot per argument.
    let mut dims: SmallVec<[i64; INLINE_DIMS]> = SmallVec::new();
    let mut spans: SmallVec<[Span; INLINE_ARGS]> = SmallVec::with_capacity(args.len());
    let mut scalars: SmallVec<[f64; INLINE_ARGS]> = SmallVec::with_capacity(args.len());
    for a in args {
        let shape = dims.len();
        match a {
            Input::Value(Value::Array(x)) => dims.extend(x.shape().iter().map(|&n| n as i64)),
            Input::Shape(s) => dims.push(s.len() as i64),
            _ => {}
        }
        let ndim = dims.len() - shape;
        let values = dims.len();
        if let Input::Shape(s) = a {
            dims.extend(s.iter().map(|&n| n as i64));
        }
        spans.push(Span {
            shape,
            ndim,
            values,
        });
        scalars.push(a.scalar().unwrap_or(0.0));
    }
    let out_dims = dims.len();
    dims.extend(first.shape().iter().map(|&n| n as i64));
    // `dims` and `scalars` do not change from here on: the pointers below stay valid.
    let dims_at = dims.as_mut_ptr();
    let cpu_dev = || DlDevice {
        device_type: 1,
        device_id: 0,
    };
    let tensors: SmallVec<[DlTensor; INLINE_ARGS]> = args
        .iter()
        .zip(&spans)
        .enumerate()
        .map(|(i, (a, span))| {
            let (data, dtype) = match a {
                Input::Value(Value::Array(x)) => (data_ptr(x.data()), dl_dtype(x.dtype())),
                // SAFETY: `values` is within `dims` (at most its end, for an empty shape).
                Input::Shape(_) => (
                    unsafe { dims_at.add(span.values) } as *mut c_void,
                    dl_dtype(DType::I64),
                ),
                _ => (
                    &scalars[i] as *const f64 as *mut c_void,
                    dl_dtype(DType::F64),
                ),
            };
            DlTensor {
                data,
                device: cpu_dev(),
                ndim: span.ndim as i32,
                dtype,
                // SAFETY: `shape` is within `dims` (at most its end, for a 0-d tensor).
                shape: unsafe { dims_at.add(span.shape) },
                strides: std::ptr::null_mut(),
                byte_offset: 0,
            }
        })
        .collect();
    let mut out_data = zeros(first.dtype(), first.len());
    let mut out = DlTensor {
        data: data_mut_ptr(&mut out_data),
        device: cpu_dev(),
        ndim: first.shape().len() as i32,
        dtype: dl_dtype(first.dtype()),
        // SAFETY: `out_dims` is within `dims` (at most its end, for a 0-d output).
        shape: unsafe { dims_at.add(out_dims) },
        strides: std::ptr::null_mut(),
        byte_offset: 0,
    };
    // On the stack: zeroing its 512-byte message buffer is a few stores, and a fresh one
    // per call means a kernel's message never carries bytes of an earlier call's.
    let mut ctx = Context {
        abi_version: ABI_VERSION,
        rank: RANK.load(Ordering::Relaxed),
        threads: rayon::current_num_threads() as i32,
        cuda_stream: std::ptr::null_mut(),
        error: [0; ERROR_BYTES],
    };
    // SAFETY: every tensor points into storage alive and unchanged until the call returns
    // (`dims`, `scalars`, the input arrays, `out_data`), with the element type and extent
    // its dtype and shape say; the output's buffer is exclusively ours (`out_data` is not
    // shared until the call returns). `cpu` has the header's type.
    let rc = unsafe {
        cpu(
            tensors.as_ptr(),
            tensors.len() as i32,
            &mut out,
            json.as_ptr(),
            &mut ctx,
        )
    };
    if rc != 0 {
        ctx.error[ERROR_BYTES - 1] = 0;
        // SAFETY: NUL-terminated by the line above at the latest.
        let msg = unsafe { CStr::from_ptr(ctx.error.as_ptr()) }.to_string_lossy();
        let msg = if msg.is_empty() {
            format!("returned {rc}")
        } else {
            msg.into_owned()
        };
        return Err(format!("{msg} ({name} returned {rc})").into());
    }
    Ok(Value::Array(Array::new(first.shape().to_vec(), out_data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel that writes what it was handed into its f64 output: the argument count;
    /// per argument ndim, dtype code and bits, the extents, then the value of a 0-d tensor,
    /// every value of a 1-d i64 tensor or else the first element; the output's ndim and
    /// extents last. Params containing "fail" or "silent" make it fail, with or without a
    /// message.
    const PROBE: &str = r#"
#include "dirk_plugin.h"
#include <stdio.h>
#include <string.h>
static int echo(const DLTensor *in, int32_t n, DLTensor *out, const char *params,
                dirk_context *ctx) {
  if (strstr(params, "fail")) {
    snprintf(ctx->error, DIRK_ERROR_BYTES, "probe failed: %s", params);
    return 7;
  }
  if (strstr(params, "silent")) return 3;
  double *o = (double *)out->data;
  int k = 0;
  o[k++] = n;
  for (int i = 0; i < n; i++) {
    const DLTensor *t = &in[i];
    if (t->strides || t->byte_offset || t->device.device_type != kDLCPU) {
      snprintf(ctx->error, DIRK_ERROR_BYTES, "input %d is not compact on the CPU", i);
      return 1;
    }
    o[k++] = t->ndim;
    o[k++] = t->dtype.code;
    o[k++] = t->dtype.bits;
    int64_t len = 1;
    for (int d = 0; d < t->ndim; d++) {
      o[k++] = (double)t->shape[d];
      len *= t->shape[d];
    }
    if (t->ndim == 0) {
      o[k++] = *(const double *)t->data;
    } else if (t->dtype.code == kDLInt && t->ndim == 1) {
      for (int64_t j = 0; j < len; j++) o[k++] = (double)((const int64_t *)t->data)[j];
    } else if (t->dtype.code == kDLFloat) {
      o[k++] = ((const double *)t->data)[0];
    } else {
      o[k++] = (double)((const int64_t *)t->data)[0];
    }
  }
  o[k++] = out->ndim;
  for (int d = 0; d < out->ndim; d++) o[k++] = (double)out->shape[d];
  return 0;
}
static const dirk_kernel kernels[] = {{"probe::echo", "[..]", -1, echo}};
static const dirk_plugin plugin = {DIRK_PLUGIN_ABI_VERSION, 1, kernels};
const dirk_plugin *dirk_plugin_v1(void) { return &plugin; }
"#;

    /// The probe's function, built with cc and loaded (never unloaded) without registering.
    fn probe() -> CpuFn {
        let dir = tempfile::tempdir().expect("temp dir");
        let src = dir.path().join("probe.c");
        std::fs::write(&src, PROBE).expect("probe source");
        let lib = dir.path().join("libprobe.so");
        let include = concat!(env!("CARGO_MANIFEST_DIR"), "/include");
        let ok = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-I", include])
            .arg(&src)
            .arg("-o")
            .arg(&lib)
            .status()
            .expect("cc")
            .success();
        assert!(ok, "cc failed on the probe plugin");
        // SAFETY: the probe above; leaked, so its functions stay valid.
        let lib: &'static libloading::Library = Box::leak(Box::new(
            unsafe { libloading::Library::new(&lib) }.expect("load"),
        ));
        // SAFETY: the header's entry point and table layout.
        unsafe {
            let entry = lib
                .get::<unsafe extern "C" fn() -> *const CPlugin>(b"dirk_plugin_v1\0")
                .expect("entry");
            (*(*entry()).kernels).cpu.expect("cpu")
        }
    }

    fn params(text: &str) -> CString {
        CString::new(text).expect("no NUL")
    }

    fn run(cpu: CpuFn, args: &[Input<'_>], json: &str) -> Result<Vec<f64>, String> {
        match call("probe::echo", cpu, args, &params(json)) {
            Ok(Value::Array(a)) => {
                assert_eq!((a.shape(), a.dtype()), (&[64usize][..], DType::F64));
                Ok(a.as_f64().expect("f64").to_vec())
            }
            Ok(other) => panic!("not an array: {other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    fn padded(mut v: Vec<f64>) -> Vec<f64> {
        v.resize(64, 0.0);
        v
    }

    #[test]
    fn a_call_hands_every_argument_kind_within_and_past_the_inline_sizes() {
        let cpu = probe();
        let a = Value::Array(Array::from_f64(vec![64], vec![1.5; 64]));
        // Two short calls: within the inline sizes.
        assert_eq!(
            run(cpu, &[Input::Value(&a), Input::Number(2.5)], "{}"),
            Ok(padded(vec![
                2., 1., 2., 64., 64., 1.5, 0., 2., 64., 2.5, 1., 64.
            ]))
        );
        // Six arguments and 16 + 3 + 1 + 1 extents: both spill to the heap.
        let mut wide = vec![2, 3];
        wide.resize(16, 1);
        let b = Value::Array(Array::new(wide, Data::I64(vec![-7, 1, 2, 3, 4, 5])));
        let got = run(
            cpu,
            &[
                Input::Value(&a),
                Input::Number(2.5),
                Input::Shape(&[4, 5, 6]),
                Input::Value(&b),
                Input::Shape(&[]),
                Input::Number(-1.0),
            ],
            "{}",
        );
        let mut want = vec![6.];
        want.extend([1., 2., 64., 64., 1.5]);
        want.extend([0., 2., 64., 2.5]);
        want.extend([1., 0., 64., 3., 4., 5., 6.]);
        want.extend([16., 0., 64., 2., 3.]);
        want.extend([1.; 14]);
        want.push(-7.);
        want.extend([1., 0., 64., 0.]);
        want.extend([0., 2., 64., -1.]);
        want.extend([1., 64.]);
        assert_eq!(got, Ok(padded(want)));
    }

    #[test]
    fn a_failing_call_gives_the_kernels_message_or_its_return_code() {
        let cpu = probe();
        let a = Value::Array(Array::from_f64(vec![64], vec![0.0; 64]));
        let args = [Input::Value(&a)];
        assert_eq!(
            run(cpu, &args, r#"{"fail":1}"#),
            Err(r#"probe failed: {"fail":1} (probe::echo returned 7)"#.into())
        );
        assert_eq!(
            run(cpu, &args, r#"{"silent":1}"#),
            Err("returned 3 (probe::echo returned 3)".into())
        );
        assert_eq!(
            run(cpu, &[Input::Number(1.0)], "{}"),
            Err("a plugin kernel needs an array argument".into())
        );
    }
}
