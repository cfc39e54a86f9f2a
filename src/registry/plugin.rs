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

/// Calls a plugin kernel: DLTensors over the inputs (numbers as 0-d f64, shapes as 1-d
/// i64), a zeroed output typed like the first array input.
fn call(name: &str, cpu: CpuFn, args: &[Input<'_>], json: &CString) -> Result<Value, BoxError> {
    // Storage the tensors point into, filled before any pointer is taken.
    let shapes: Vec<Vec<i64>> = args
        .iter()
        .map(|a| match a {
            Input::Value(Value::Array(x)) => x.shape().iter().map(|&n| n as i64).collect(),
            Input::Shape(s) => vec![s.len() as i64],
            _ => Vec::new(),
        })
        .collect();
    let scalars: Vec<f64> = args.iter().map(|a| a.scalar().unwrap_or(0.0)).collect();
    let shape_values: Vec<Vec<i64>> = args
        .iter()
        .map(|a| match a {
            Input::Shape(s) => s.iter().map(|&n| n as i64).collect(),
            _ => Vec::new(),
        })
        .collect();
    let cpu_dev = || DlDevice {
        device_type: 1,
        device_id: 0,
    };
    let mut tensors: Vec<DlTensor> = Vec::with_capacity(args.len());
    let mut first: Option<&Array> = None;
    for (i, a) in args.iter().enumerate() {
        let (data, dtype) = match a {
            Input::Value(Value::Array(x)) => {
                first.get_or_insert(x);
                (data_ptr(x.data()), dl_dtype(x.dtype()))
            }
            Input::Shape(_) => (
                shape_values[i].as_ptr() as *mut c_void,
                dl_dtype(DType::I64),
            ),
            _ => (
                &scalars[i] as *const f64 as *mut c_void,
                dl_dtype(DType::F64),
            ),
        };
        tensors.push(DlTensor {
            data,
            device: cpu_dev(),
            ndim: shapes[i].len() as i32,
            dtype,
            shape: shapes[i].as_ptr() as *mut i64,
            strides: std::ptr::null_mut(),
            byte_offset: 0,
        });
    }
    let first = first.ok_or("a plugin kernel needs an array argument")?;
    let mut out_shape: Vec<i64> = first.shape().iter().map(|&n| n as i64).collect();
    let mut out_data = zeros(first.dtype(), first.len());
    let mut out = DlTensor {
        data: data_mut_ptr(&mut out_data),
        device: cpu_dev(),
        ndim: out_shape.len() as i32,
        dtype: dl_dtype(first.dtype()),
        shape: out_shape.as_mut_ptr(),
        strides: std::ptr::null_mut(),
        byte_offset: 0,
    };
    let mut ctx = Context {
        abi_version: ABI_VERSION,
        rank: RANK.load(Ordering::Relaxed),
        threads: rayon::current_num_threads() as i32,
        cuda_stream: std::ptr::null_mut(),
        error: [0; ERROR_BYTES],
    };
    // SAFETY: every tensor points into storage alive until the call returns (`shapes`,
    // `scalars`, `shape_values`, the input arrays, `out_data`, `out_shape`), with the
    // element type and extent its dtype and shape say; the output's buffer is exclusively
    // ours (`out_data` is not shared until the call returns). `cpu` has the header's type.
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
