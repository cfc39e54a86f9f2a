//! Registering an application's kernel: a typed builder (`KernelBuilder`) whose closures see
//! the params as the application's own serde type and the inputs as typed array views
//! (`Inputs`), erased once at registration into `ErasedFns`, which a task calls.

use super::kernel::{ParamBox, Signature};
use crate::graph::{ArgType, Array, DType, Data, Value, ValueType};
use crate::kernels::Input;
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The error a kernel returns: anything that converts (`"text".into()`, `format!(..).into()`,
/// `?` on a std error).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The params type of a kernel that takes none: only `{}` (or no `params`) is accepted.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// A user kernel's params, type-erased.
type AnyParams = dyn std::any::Any + Send + Sync;
type ParseFn = Box<dyn Fn(&serde_json::Value) -> Result<ParamBox, String> + Send + Sync>;
type ErasedCpuFn = Box<dyn Fn(&[Input<'_>], &AnyParams) -> Result<Value, BoxError> + Send + Sync>;
type ShapeFn<P> = Box<dyn Fn(&[ArgType<'_>], &P) -> Result<ValueType, String> + Send + Sync>;
type CpuFn<P> = Box<dyn Fn(&Inputs<'_, '_>, &P) -> Result<Value, BoxError> + Send + Sync>;
type CostFn<P> = Box<dyn Fn(&ValueType, &P) -> f64 + Send + Sync>;

/// A user kernel's functions with the params type erased (a `Kernel`'s body).
pub(crate) struct ErasedFns {
    pub(crate) parse: ParseFn,
    pub(crate) shape: ShapeFn<AnyParams>,
    pub(crate) cpu: ErasedCpuFn,
    pub(crate) cost: CostFn<AnyParams>,
}

/// An element type a kernel can view and return: f64, f32, i64, u8.
pub trait Element: Copy + Send + Sync + 'static {
    /// The dtype of arrays of this element.
    const DTYPE: DType;
    /// The elements, if `data` holds this type.
    fn slice(data: &Data) -> Option<&[Self]>;
    /// Wraps elements as array data.
    fn wrap(v: Vec<Self>) -> Data;
}

macro_rules! element {
    ($t:ty, $d:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn slice(data: &Data) -> Option<&[$t]> {
                match data {
                    Data::$d(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(v: Vec<$t>) -> Data {
                Data::$d(v)
            }
        }
    };
}
element!(f64, F64);
element!(f32, F32);
element!(i64, I64);
element!(u8, U8);

/// A kernel's positional arguments, with typed accessors that say what is wrong.
pub struct Inputs<'s, 'a> {
    args: &'s [Input<'a>],
}

impl<'s, 'a> Inputs<'s, 'a> {
    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// True when the kernel takes no argument.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The raw arguments.
    pub fn raw(&self) -> &'s [Input<'a>] {
        self.args
    }

    /// Argument `i` as an array.
    pub fn array(&self, i: usize) -> Result<&'a Array, BoxError> {
        match self.args.get(i) {
            Some(Input::Value(Value::Array(a))) => Ok(a),
            _ => Err(format!("args[{i}] is not an array").into()),
        }
    }

    /// Argument `i` as an n-d view of `T` elements.
    pub fn view<T: Element>(&self, i: usize) -> Result<ArrayViewD<'a, T>, BoxError> {
        let a = self.array(i)?;
        let data = T::slice(a.data())
            .ok_or_else(|| format!("args[{i}] is {}, not {}", a.dtype(), T::DTYPE))?;
        Ok(ArrayViewD::from_shape(IxDyn(a.shape()), data)?)
    }

    /// Argument `i` as a number (a literal or a scalar value).
    pub fn scalar(&self, i: usize) -> Result<f64, BoxError> {
        self.args
            .get(i)
            .and_then(Input::scalar)
            .ok_or_else(|| format!("args[{i}] is not a scalar").into())
    }

    /// Argument `i` as a shape literal.
    pub fn shape(&self, i: usize) -> Result<&'a [usize], BoxError> {
        match self.args.get(i) {
            Some(Input::Shape(s)) => Ok(s),
            _ => Err(format!("args[{i}] is not a shape").into()),
        }
    }
}

/// What a kernel's CPU function may return.
pub trait IntoValue {
    /// The value.
    fn into_value(self) -> Value;
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}

impl IntoValue for Array {
    fn into_value(self) -> Value {
        Value::Array(self)
    }
}

impl IntoValue for f64 {
    fn into_value(self) -> Value {
        Value::Scalar(self)
    }
}

impl<T: Element> IntoValue for ArrayD<T> {
    fn into_value(self) -> Value {
        let shape = self.shape().to_vec();
        let n = self.len();
        let v = if self.is_standard_layout() {
            let (v, off) = self.into_raw_vec_and_offset();
            let off = off.unwrap_or(0);
            if off == 0 && v.len() == n {
                v
            } else {
                v[off..off + n].to_vec()
            }
        } else {
            self.iter().copied().collect()
        };
        Value::Array(Array::new(shape, T::wrap(v)))
    }
}

/// Builds one user kernel; `Registry::kernel` hands it out and registers the result.
/// Call `params` first (it starts over with another params type), then any of the others;
/// `cpu` is required.
pub struct KernelBuilder<P> {
    pub(super) name: String,
    signature: Signature,
    shape: Option<ShapeFn<P>>,
    cpu: Option<CpuFn<P>>,
    cost: Option<CostFn<P>>,
}

impl KernelBuilder<NoParams> {
    pub(super) fn new(name: &str) -> KernelBuilder<NoParams> {
        KernelBuilder {
            name: name.to_string(),
            signature: Signature {
                args: "[..]".into(),
                arity: None,
                dtypes: Vec::new(),
            },
            shape: None,
            cpu: None,
            cost: None,
        }
    }
}

impl<P: DeserializeOwned + Send + Sync + 'static> KernelBuilder<P> {
    /// The params type, read from the task's `params` object with serde (unknown keys are
    /// rejected where the type says `#[serde(deny_unknown_fields)]`).
    pub fn params<Q: DeserializeOwned + Send + Sync + 'static>(self) -> KernelBuilder<Q> {
        assert!(
            self.shape.is_none() && self.cpu.is_none() && self.cost.is_none(),
            "kernel {}: call .params::<P>() before .shape, .cpu and .cost",
            self.name
        );
        KernelBuilder {
            name: self.name,
            signature: self.signature,
            shape: None,
            cpu: None,
            cost: None,
        }
    }

    /// Its positional arguments: exactly `arity` of them, described as in a job file
    /// (`"[u, alpha]"`).
    pub fn args(mut self, describe: &str, arity: usize) -> Self {
        self.signature.args = describe.to_string();
        self.signature.arity = Some(arity);
        self
    }

    /// The dtypes its array arguments may have (default: any).
    pub fn dtypes(mut self, dtypes: &[DType]) -> Self {
        self.signature.dtypes = dtypes.to_vec();
        self
    }

    /// The result's type from the arguments' types and the params, or what is wrong (rank 0
    /// checks it before anything runs). Default: the type of the first value argument.
    pub fn shape(
        mut self,
        f: impl Fn(&[ArgType<'_>], &P) -> Result<ValueType, String> + Send + Sync + 'static,
    ) -> Self {
        self.shape = Some(Box::new(f));
        self
    }

    /// The CPU function: the inputs and the params to the result, which must have the type
    /// the shape rule gave (else the task fails).
    pub fn cpu<O: IntoValue>(
        mut self,
        f: impl Fn(&Inputs<'_, '_>, &P) -> Result<O, BoxError> + Send + Sync + 'static,
    ) -> Self {
        self.cpu = Some(Box::new(move |i, p| f(i, p).map(IntoValue::into_value)));
        self
    }

    /// The cost hint: estimated nanoseconds for a result of the given type (the planner's
    /// starting point; the learned cost model refines it). Default: 1 µs + 1 ns per element.
    pub fn cost(mut self, f: impl Fn(&ValueType, &P) -> f64 + Send + Sync + 'static) -> Self {
        self.cost = Some(Box::new(f));
        self
    }

    /// Erases the params type; `None` when no CPU function was given.
    pub(super) fn finish(self) -> Option<(Signature, ErasedFns)> {
        let cpu = self.cpu?;
        let shape = self.shape;
        let cost = self.cost;
        fn p<P: 'static>(p: &AnyParams) -> &P {
            p.downcast_ref::<P>()
                .expect("a kernel's params have its params type")
        }
        let fns = ErasedFns {
            parse: Box::new(|json| {
                let p: P = serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
                Ok(Arc::new(p) as ParamBox)
            }),
            shape: Box::new(move |args, params| match &shape {
                Some(f) => f(args, p::<P>(params)),
                None => first_value(args),
            }),
            cpu: Box::new(move |args, params| cpu(&Inputs { args }, p::<P>(params))),
            cost: Box::new(move |out, params| match &cost {
                Some(f) => f(out, p::<P>(params)),
                None => 1_000.0 + out.len() as f64,
            }),
        };
        Some((self.signature, fns))
    }
}

/// The default shape rule: the type of the first value argument.
fn first_value(args: &[ArgType<'_>]) -> Result<ValueType, String> {
    args.iter()
        .find_map(|a| match a {
            ArgType::Value(t) => Some((*t).clone()),
            _ => None,
        })
        .ok_or_else(|| {
            "no argument is a task's value, and the kernel gives no shape rule".to_string()
        })
}
