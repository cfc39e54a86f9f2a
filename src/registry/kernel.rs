//! One kernel record (`Kernel`, after StarPU's `struct starpu_codelet`) and one call of it
//! with parsed parameters (`KernelCall`, what a task carries in `Op::Kernel`).
//!
//! A record holds everything dirk needs to know about an op: its name, its signature
//! (arity, accepted dtypes, the rule giving the result's type from the arguments' types and
//! the params), its params parser, its CPU function and its cost hint. A built-in record's
//! parser yields one of `Op`'s built-in variants, whose typing, kernel, cost and device rules
//! live with that variant (`graph::op`, `kernels`, `plan::cost`, `device`): the built-in
//! adapter. A user record (`Registry::kernel`) carries its functions itself; the task holds
//! an `Arc` to it, so running it costs one indirect call, never a lookup by name.

use super::builder::ErasedFns;
use crate::graph::{ArgType, DType, Op, Value, ValueType};
use crate::job::{JobError, Params};
use crate::kernels::{Input, KernelError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

/// Parses a built-in's `params` (the job file's folder resolves relative paths) into its `Op`.
pub type BuiltinParse = fn(&mut Params<'_>, &Path) -> Result<Op, JobError>;

/// Parsed parameters of a user kernel, shared by every clone of a task's op.
pub(crate) type ParamBox = Arc<dyn Any + Send + Sync>;

/// What a kernel accepts: shown by `dirk info`, checked before a user kernel's shape rule,
/// and part of the registry's fingerprint.
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

/// How a kernel's functions are given.
pub(crate) enum Body {
    /// A built-in op: the parser yields its `Op` variant.
    Builtin(BuiltinParse),
    /// A kernel registered by an application: its functions, type-erased over its params.
    User(ErasedFns),
}

/// One registered kernel: the one place an op is defined.
pub struct Kernel {
    name: &'static str,
    signature: Signature,
    body: Body,
    /// Where it comes from: `built-in`, `app`, or `plugin PATH sha256 HEX`.
    origin: String,
}

impl Kernel {
    /// A built-in kernel record.
    pub(crate) fn builtin(name: &'static str, args: &str, parse: BuiltinParse) -> Kernel {
        Kernel {
            name,
            signature: Signature {
                args: args.to_string(),
                arity: None,
                dtypes: Vec::new(),
            },
            body: Body::Builtin(parse),
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
        Kernel {
            name: Box::leak(name.to_string().into_boxed_str()),
            signature,
            body: Body::User(fns),
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
        matches!(self.body, Body::Builtin(_))
    }

    /// A built-in's params parser; `None` for a user kernel.
    pub fn builtin_parser(&self) -> Option<BuiltinParse> {
        match self.body {
            Body::Builtin(p) => Some(p),
            Body::User(_) => None,
        }
    }
}

impl fmt::Debug for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kernel({} {})", self.name, self.signature)
    }
}

/// A task's call of a user kernel: the record and the parsed params. On the wire (the plan,
/// steal messages) it is the kernel's name and the params' JSON text; the receiving rank
/// finds the kernel in its own registry (`registry::global`) and parses the params once.
#[derive(Clone)]
pub struct KernelCall {
    kernel: Arc<Kernel>,
    params: ParamBox,
    json: Arc<str>,
}

impl KernelCall {
    /// Calls `kernel` (a user kernel) with `params`, parsed by its params type.
    pub fn new(kernel: Arc<Kernel>, params: &serde_json::Value) -> Result<KernelCall, String> {
        let Body::User(fns) = &kernel.body else {
            return Err(format!(
                "op {} is a built-in: spawn its Op variant",
                kernel.name
            ));
        };
        let parsed = (fns.parse)(params).map_err(|e| format!("params: {e}"))?;
        Ok(KernelCall {
            params: parsed,
            json: params.to_string().into(),
            kernel,
        })
    }

    /// The kernel.
    pub fn kernel(&self) -> &Arc<Kernel> {
        &self.kernel
    }

    /// The params as JSON text.
    pub fn params_json(&self) -> &str {
        &self.json
    }

    fn fns(&self) -> &ErasedFns {
        match &self.kernel.body {
            Body::User(f) => f,
            Body::Builtin(_) => unreachable!("a KernelCall holds a user kernel"),
        }
    }

    /// The result type for these argument types (signature, then the kernel's shape rule).
    pub fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        self.kernel.signature.check(self.kernel.name, args)?;
        (self.fns().shape)(args, &*self.params)
    }

    /// The kernel's cost hint for a result of type `out`, in nanoseconds.
    pub fn cost_ns(&self, out: &ValueType) -> f64 {
        (self.fns().cost)(out, &*self.params)
    }

    /// Runs the CPU function. Its error or panic becomes a `KernelError` naming the kernel
    /// (the scheduler adds the task and the rank).
    pub fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        let name = self.kernel.name;
        match catch_unwind(AssertUnwindSafe(|| (self.fns().cpu)(args, &*self.params))) {
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
}

impl PartialEq for KernelCall {
    fn eq(&self, other: &KernelCall) -> bool {
        self.kernel.name == other.kernel.name && self.json == other.json
    }
}

impl fmt::Debug for KernelCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.kernel.name, self.json)
    }
}

impl Serialize for KernelCall {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.kernel.name, &*self.json).serialize(s)
    }
}

impl<'de> Deserialize<'de> for KernelCall {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KernelCall, D::Error> {
        use serde::de::Error;
        let (name, json) = <(String, String)>::deserialize(d)?;
        let kernel = super::lookup(&name)
            .ok_or_else(|| D::Error::custom(format!("kernel {name} is not registered here")))?;
        let params: serde_json::Value = serde_json::from_str(&json).map_err(D::Error::custom)?;
        KernelCall::new(kernel, &params).map_err(D::Error::custom)
    }
}
