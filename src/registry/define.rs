//! How a built-in kernel is defined: its params type implements `Builtin` in its own file
//! under `kernels/` (name, arguments, typing rule, params parser, CPU function, cost hint, and
//! where it has one its GPU function), and `registry/builtins.rs` registers it in one line.
//! `Native<P>` erases the params type once, into the record's `Body`.

use super::kernel::{AnyParams, Body, CostArgs, Gpu, Kernel, ParamBox, Signature};
use crate::device::{DeviceError, DeviceInput, DeviceOutput, GpuOps};
use crate::graph::{ArgType, DType, Op, Value, ValueType};
use crate::job::{JobError, Params};
use crate::kernels::{Input, KernelError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

/// A built-in kernel, defined by its params type (a unit struct when it takes none).
pub trait Builtin:
    Clone + PartialEq + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Its name (job files name the ones with `IN_JOBS`).
    const NAME: &'static str;
    /// Its positional arguments, as a job file writes them.
    const ARGS: &'static str;
    /// How many positional arguments it takes; `None`: its typing rule checks.
    const ARITY: Option<usize>;
    /// The dtypes its array arguments may have; empty: any.
    const DTYPES: &'static [DType] = &[];
    /// A job file may name it; false for the ops only the workload generators spawn.
    const IN_JOBS: bool = false;
    /// What its GPU function (`launch`) covers; `None`: it has none.
    const GPU: Option<Gpu> = None;

    /// Its record, made once (`builtin_record!`).
    fn record() -> &'static Arc<Kernel>;

    /// Reads a job file's `params` (only for `IN_JOBS` kernels).
    fn parse(p: &mut Params<'_>, base: &Path) -> Result<Self, JobError> {
        let _ = base;
        Err(p.error("op", format!("{} is not named in job files", Self::NAME)))
    }

    /// The result type for these argument types (arity and dtypes already checked).
    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String>;

    /// Checks a number literal at position `i` of a task whose result is an array of `dtype`.
    fn check_number(&self, i: usize, x: f64, dtype: DType) -> Result<(), String> {
        let _ = (i, x, dtype);
        Ok(())
    }

    /// The CPU function. Arguments were typed when the graph was built, so a mismatch is a
    /// bug and panics (the scheduler turns a panic into a task failure).
    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError>;

    /// Estimated nanoseconds: round figures measured once on a 2-core x86 VM (see
    /// BENCHMARKS.md); only their ratios matter to the planner.
    fn cost_ns(&self, c: &CostArgs<'_>) -> f64;

    /// The GPU function, on arrays of `dtype` (which `GPU` covers).
    fn launch(
        &self,
        dev: &dyn GpuOps,
        dtype: DType,
        args: &[DeviceInput<'_>],
    ) -> Result<DeviceOutput, DeviceError> {
        let _ = (dev, args);
        Err(DeviceError::Unsupported(format!(
            "{} on {}",
            Self::NAME,
            dtype.name()
        )))
    }

    /// The input file it reads, if any.
    fn input_file(&self) -> Option<&str> {
        None
    }

    /// The dtype it makes when it has no array argument.
    fn own_dtype(&self) -> Option<DType> {
        None
    }

    /// A task's op running this kernel with these params.
    fn op(self) -> Op {
        Op::from_parts(Arc::clone(Self::record()), Arc::new(self))
    }
}

/// Defines `Builtin::record` for the type it is expanded in.
#[macro_export]
#[doc(hidden)]
macro_rules! builtin_record {
    () => {
        fn record() -> &'static std::sync::Arc<$crate::registry::Kernel> {
            static RECORD: std::sync::OnceLock<std::sync::Arc<$crate::registry::Kernel>> =
                std::sync::OnceLock::new();
            RECORD.get_or_init(|| std::sync::Arc::new($crate::registry::native::<Self>()))
        }
    };
}

/// The record of built-in `P`.
pub fn native<P: Builtin>() -> Kernel {
    Kernel::builtin(
        P::NAME,
        Signature {
            args: P::ARGS.to_string(),
            arity: P::ARITY,
            dtypes: P::DTYPES.to_vec(),
        },
        P::IN_JOBS,
        Box::new(Native::<P>(PhantomData)),
    )
}

/// `P`'s functions behind the record's `Body`.
struct Native<P>(PhantomData<fn() -> P>);

fn typed<P: 'static>(p: &AnyParams) -> &P {
    p.downcast_ref::<P>()
        .expect("a kernel's params have its params type")
}

impl<P: Builtin> Body for Native<P> {
    fn parse_job(&self, p: &mut Params<'_>, base: &Path) -> Result<ParamBox, JobError> {
        Ok(Arc::new(P::parse(p, base)?))
    }

    fn parse_json(&self, json: &serde_json::Value) -> Result<ParamBox, String> {
        let p: P = serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
        Ok(Arc::new(p))
    }

    fn infer(&self, p: &AnyParams, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        typed::<P>(p).infer(args)
    }

    fn check_number(&self, p: &AnyParams, i: usize, x: f64, dtype: DType) -> Result<(), String> {
        typed::<P>(p).check_number(i, x, dtype)
    }

    fn run(&self, p: &AnyParams, args: &[Input<'_>]) -> Result<Value, KernelError> {
        typed::<P>(p).run(args)
    }

    fn cost_ns(&self, p: &AnyParams, c: &CostArgs<'_>) -> f64 {
        typed::<P>(p).cost_ns(c)
    }

    fn gpu(&self) -> Option<Gpu> {
        P::GPU
    }

    fn launch(
        &self,
        p: &AnyParams,
        dev: &dyn GpuOps,
        dtype: DType,
        args: &[DeviceInput<'_>],
    ) -> Result<DeviceOutput, DeviceError> {
        typed::<P>(p).launch(dev, dtype, args)
    }

    fn input_file<'p>(&self, p: &'p AnyParams) -> Option<&'p str> {
        typed::<P>(p).input_file()
    }

    fn own_dtype(&self, p: &AnyParams) -> Option<DType> {
        typed::<P>(p).own_dtype()
    }

    fn encode(&self, p: &AnyParams, out: &mut Vec<u8>) {
        let bytes = postcard::to_allocvec(typed::<P>(p)).expect("params encode");
        out.extend_from_slice(&bytes);
    }

    fn decode(&self, bytes: &[u8]) -> Result<ParamBox, String> {
        let p: P = postcard::from_bytes(bytes).map_err(|e| e.to_string())?;
        Ok(Arc::new(p))
    }

    fn interned(&self) -> bool {
        false
    }

    fn eq(&self, a: &AnyParams, b: &AnyParams) -> bool {
        typed::<P>(a) == typed::<P>(b)
    }

    fn fmt(&self, p: &AnyParams, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(typed::<P>(p), f)
    }
}
