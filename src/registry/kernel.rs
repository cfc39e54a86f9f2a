//! One kernel record (`Kernel`, after StarPU's `struct starpu_codelet`): everything dirk
//! knows about an op, built-in or not.
//!
//! A record holds its name, its signature (arity, accepted dtypes; the rule giving the
//! result's type from the arguments' types and the params), its params parser, its CPU
//! function, its optional GPU function with whether that gives the CPU's bits, its cost hint,
//! and its params' wire form. Its functions sit behind one trait object (`Body`), type-erased
//! over the params: a built-in's is `define::Native<P>` over its params type (`Builtin`, in
//! its own file under `kernels/`), an application's or a plugin's is `UserBody` over the
//! closures it registered. A task holds an `Arc` to the record and its parsed params
//! (`graph::Op`), so running, typing or costing it costs one indirect call, never a lookup.

use super::builder::ErasedFns;
use crate::device::{DeviceError, DeviceInput, DeviceOutput, GpuOps};
use crate::graph::{ArgType, DType, Op, Value, ValueType};
use crate::job::{JobError, Params};
use crate::kernels::{Input, KernelError};
use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

/// Parsed parameters of a kernel, shared by every clone of a task's op.
pub(crate) type ParamBox = Arc<dyn Any + Send + Sync>;
/// A kernel's params, type-erased.
pub(crate) type AnyParams = dyn Any + Send + Sync;

/// What a kernel accepts: shown by `dirk info`, checked before its typing rule, and part of
/// the registry's fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Its positional arguments, as the job file writes them (`[a, b]`, `[shape]`).
    pub args: String,
    /// How many positional arguments it takes; `None`: any number (checked by its own rule).
    pub arity: Option<usize>,
    /// The dtypes its array arguments may have; empty: any.
    pub dtypes: Vec<DType>,
}

impl Signature {
    /// Checks arity and the dtypes of array arguments, naming the kernel.
    pub(crate) fn check(&self, name: &str, args: &[ArgType<'_>]) -> Result<(), String> {
        if let Some(n) = self.arity {
            if args.len() != n {
                return Err(format!(
                    "op {name} takes {n} argument{} ({}), got {}",
                    if n == 1 { "" } else { "s" },
                    self.args,
                    args.len()
                ));
            }
        }
        if self.dtypes.is_empty() {
            return Ok(());
        }
        for (i, a) in args.iter().enumerate() {
            if let ArgType::Value(ValueType::Array { dtype, .. }) = a {
                if !self.dtypes.contains(dtype) {
                    let names: Vec<&str> = self.dtypes.iter().map(|d| d.name()).collect();
                    return Err(format!(
                        "op {name}: args[{i}] is {dtype}; it accepts {}",
                        names.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.args)?;
        if !self.dtypes.is_empty() {
            let names: Vec<&str> = self.dtypes.iter().map(|d| d.name()).collect();
            write!(f, " of {}", names.join("|"))?;
        }
        Ok(())
    }
}

/// What a kernel's GPU function covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gpu {
    /// The dtypes (of its first array argument, else its own) it runs on.
    pub dtypes: &'static [DType],
    /// It gives the CPU function's bits (integer-exact, or the CPU's order of float
    /// operations with FMA contraction forbidden), so a rank may move a task without a
    /// device scope to the GPU without changing any result.
    pub bit_identical: bool,
}

impl Gpu {
    /// A GPU function over `dtypes` that gives the CPU's bits.
    pub const fn exact(dtypes: &'static [DType]) -> Option<Gpu> {
        Some(Gpu {
            dtypes,
            bit_identical: true,
        })
    }

    /// A GPU function over `dtypes` that sums in its own order (cuBLAS, cuSOLVER): a task
    /// goes to the GPU only when scoped there.
    pub const fn own_order(dtypes: &'static [DType]) -> Option<Gpu> {
        Some(Gpu {
            dtypes,
            bit_identical: false,
        })
    }
}

/// What the planner's cost hint sees: the result's type and the task's inputs' types.
pub struct CostArgs<'a> {
    /// The result's static type.
    pub out: &'a ValueType,
    /// The type of the task's `i`-th input value (its value arguments, in order).
    pub inputs: &'a dyn Fn(usize) -> Option<&'a ValueType>,
}

impl<'a> CostArgs<'a> {
    /// Elements of the result.
    pub fn len(&self) -> f64 {
        self.out.len() as f64
    }

    /// The type of the task's `i`-th input value.
    pub fn input(&self, i: usize) -> Option<&'a ValueType> {
        (self.inputs)(i)
    }
}

/// A kernel's functions over its type-erased params (`ParamBox`). Every method but the
/// parsers is handed params this body parsed or decoded.
pub(crate) trait Body: Send + Sync {
    /// Reads a job file's `params` (a built-in; `p.finish` is the caller's).
    fn parse_job(&self, p: &mut Params<'_>, base: &Path) -> Result<ParamBox, JobError>;
    /// Reads params given as JSON (`Graph::spawn_kernel`, an application's or plugin's
    /// kernel in a job file).
    fn parse_json(&self, json: &serde_json::Value) -> Result<ParamBox, String>;
    /// The result type for these argument types (arity and dtypes already checked).
    fn infer(&self, p: &AnyParams, args: &[ArgType<'_>]) -> Result<ValueType, String>;
    /// Checks a number literal at position `i` of a task whose result is an array of
    /// `dtype` (the elementwise ops and `fill` take it in the array's dtype).
    fn check_number(&self, p: &AnyParams, i: usize, x: f64, dtype: DType) -> Result<(), String>;
    /// The CPU function.
    fn run(&self, p: &AnyParams, args: &[Input<'_>]) -> Result<Value, KernelError>;
    /// Estimated nanoseconds (the planner's static estimate).
    fn cost_ns(&self, p: &AnyParams, c: &CostArgs<'_>) -> f64;
    /// What the GPU function covers; `None`: there is none.
    fn gpu(&self) -> Option<Gpu>;
    /// The GPU function, on arrays of `dtype` (which `gpu` covers).
    fn launch(
        &self,
        p: &AnyParams,
        dev: &dyn GpuOps,
        dtype: DType,
        args: &[DeviceInput<'_>],
    ) -> Result<DeviceOutput, DeviceError>;
    /// The input file it reads, if any (checkpoint fingerprints, stealing, `dirk validate`).
    fn input_file<'p>(&self, p: &'p AnyParams) -> Option<&'p str>;
    /// The dtype it makes when it has no array argument (`rand`, `fill`).
    fn own_dtype(&self, p: &AnyParams) -> Option<DType>;
    /// Appends the params' wire form (the plan, steal messages).
    fn encode(&self, p: &AnyParams, out: &mut Vec<u8>);
    /// Reads the wire form back.
    fn decode(&self, bytes: &[u8]) -> Result<ParamBox, String>;
    /// True when the wire form is text a cache should intern (JSON params), so a plan of
    /// many tasks with one params text parses it once.
    fn interned(&self) -> bool;
    /// Params equality.
    fn eq(&self, a: &AnyParams, b: &AnyParams) -> bool;
    /// Params as text (`Debug`; part of the graph's fingerprint).
    fn fmt(&self, p: &AnyParams, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// One registered kernel: the one place an op is defined.
pub struct Kernel {
    name: &'static str,
    signature: Signature,
    /// A job file may name it (false: only the workload generators spawn it).
    in_jobs: bool,
    body: Box<dyn Body>,
    /// Where it comes from: `built-in`, `app`, or `plugin PATH sha256 HEX`.
    origin: String,
}

impl Kernel {
    /// A built-in kernel record.
    pub(crate) fn builtin(
        name: &'static str,
        signature: Signature,
        in_jobs: bool,
        body: Box<dyn Body>,
    ) -> Kernel {
        Kernel {
            name,
            signature,
            in_jobs,
            body,
            origin: "built-in".into(),
        }
    }

    /// A user kernel record. The name is kept for the process's lifetime (kernels are never
    /// unregistered), so a task's op name is a `&'static str` like a built-in's.
    pub(crate) fn user(name: &str, signature: Signature, fns: ErasedFns) -> Kernel {
        Kernel::plugin(name, signature, fns, "app".into())
    }

    /// A kernel from a loaded plugin (`origin` names the file and its hash).
    pub(crate) fn plugin(
        name: &str,
        signature: Signature,
        fns: ErasedFns,
        origin: String,
    ) -> Kernel {
        let name: &'static str = Box::leak(name.to_string().into_boxed_str());
        Kernel {
            name,
            signature,
            in_jobs: true,
            body: Box::new(UserBody { name, fns }),
            origin,
        }
    }

    /// Where it comes from: `built-in`, `app`, or `plugin PATH sha256 HEX`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Its name in job files (`add`, `myapp::heat5`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What it accepts.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// True for a kernel dirk ships.
    pub fn is_builtin(&self) -> bool {
        self.origin == "built-in"
    }

    /// True when a job file may name it (every kernel but the generators' tiled ops).
    pub fn in_jobs(&self) -> bool {
        self.in_jobs
    }

    /// What its GPU function covers; `None`: it has none.
    pub fn gpu(&self) -> Option<Gpu> {
        self.body.gpu()
    }

    /// A task's op from a job file's `params` (a built-in): the caller calls `p.finish()`.
    pub fn parse_params(
        self: &Arc<Kernel>,
        p: &mut Params<'_>,
        base: &Path,
    ) -> Result<Op, JobError> {
        let params = self.body.parse_job(p, base)?;
        Ok(Op::from_parts(Arc::clone(self), params))
    }

    /// A task's op with `params` given as JSON (an application's or a plugin's kernel).
    pub fn call(self: &Arc<Kernel>, params: &serde_json::Value) -> Result<Op, String> {
        let parsed = self
            .body
            .parse_json(params)
            .map_err(|e| format!("params: {e}"))?;
        Ok(Op::from_parts(Arc::clone(self), parsed))
    }

    pub(crate) fn body(&self) -> &dyn Body {
        &*self.body
    }
}

impl fmt::Debug for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kernel({} {})", self.name, self.signature)
    }
}

/// A user kernel's params: the parsed value and the JSON text it came from (its wire form).
struct UserParams {
    value: ParamBox,
    json: Arc<str>,
}

/// An application's or a plugin's kernel: the closures it registered.
struct UserBody {
    name: &'static str,
    fns: ErasedFns,
}

fn user(p: &AnyParams) -> &UserParams {
    p.downcast_ref::<UserParams>()
        .expect("a user kernel's params are UserParams")
}

impl UserBody {
    fn wrap(&self, json: Arc<str>, v: &serde_json::Value) -> Result<ParamBox, String> {
        let value = (self.fns.parse)(v)?;
        Ok(Arc::new(UserParams { value, json }))
    }
}

impl Body for UserBody {
    fn parse_job(&self, p: &mut Params<'_>, _base: &Path) -> Result<ParamBox, JobError> {
        Err(p.error("op", "its params are read as JSON (Kernel::call)"))
    }

    fn parse_json(&self, json: &serde_json::Value) -> Result<ParamBox, String> {
        self.wrap(json.to_string().into(), json)
    }

    fn infer(&self, p: &AnyParams, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        (self.fns.shape)(args, &*user(p).value)
    }

    fn check_number(&self, _: &AnyParams, _: usize, _: f64, _: DType) -> Result<(), String> {
        Ok(())
    }

    fn run(&self, p: &AnyParams, args: &[Input<'_>]) -> Result<Value, KernelError> {
        let p = &*user(p).value;
        let name = self.name;
        match catch_unwind(AssertUnwindSafe(|| (self.fns.cpu)(args, p))) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(KernelError(format!("kernel {name}: {e}"))),
            Err(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(KernelError(format!("kernel {name} panicked: {msg}")))
            }
        }
    }

    fn cost_ns(&self, p: &AnyParams, c: &CostArgs<'_>) -> f64 {
        (self.fns.cost)(c.out, &*user(p).value)
    }

    fn gpu(&self) -> Option<Gpu> {
        None
    }

    fn launch(
        &self,
        _: &AnyParams,
        _: &dyn GpuOps,
        _: DType,
        _: &[DeviceInput<'_>],
    ) -> Result<DeviceOutput, DeviceError> {
        Err(DeviceError::Unsupported("a user kernel on the GPU".into()))
    }

    fn input_file<'p>(&self, _: &'p AnyParams) -> Option<&'p str> {
        None
    }

    fn own_dtype(&self, _: &AnyParams) -> Option<DType> {
        None
    }

    fn encode(&self, p: &AnyParams, out: &mut Vec<u8>) {
        out.extend_from_slice(user(p).json.as_bytes());
    }

    fn decode(&self, bytes: &[u8]) -> Result<ParamBox, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        self.wrap(text.into(), &v)
    }

    fn interned(&self) -> bool {
        true
    }

    fn eq(&self, a: &AnyParams, b: &AnyParams) -> bool {
        user(a).json == user(b).json
    }

    fn fmt(&self, p: &AnyParams, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&user(p).json)
    }
}
