//! A task's op: a kernel record from the kernel table (`crate::registry`) and its parsed
//! params, and the static argument types its typing rule reads.
//!
//! Type inference runs when a task is spawned, so a shape mismatch is reported against the
//! task that causes it before anything runs. Every op — typing, CPU and GPU functions, cost
//! hint, input file — is defined by its record; this file only forwards to it.

use super::value::{DType, Value, ValueType};
use crate::device::{DeviceError, DeviceInput, DeviceOutput, GpuOps};
use crate::kernels::{Input, KernelError};
use crate::registry::{CostArgs, Gpu, Kernel};
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use crate::kernels::TaskBenchTask;

/// A kernel and its parsed params: what a task runs. Cloning it clones two `Arc`s.
///
/// On the wire (the plan, steal messages) it is the kernel's name and its params' wire form
/// (a built-in's params in postcard, an application's as JSON text); the receiving rank finds
/// the kernel in its own table, which matched rank 0's before anything was planned
/// (`runtime::bootstrap`), and parses JSON params once per distinct text (`decode`).
#[derive(Clone)]
pub struct Op {
    kernel: Arc<Kernel>,
    params: Arc<dyn Any + Send + Sync>,
}

/// The static type of one positional argument, as seen by type inference.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgType<'a> {
    /// A value produced by another task.
    Value(&'a ValueType),
    /// A number literal.
    Number,
    /// A shape literal.
    Shape(&'a [usize]),
}

impl Op {
    /// The built-in kernel whose params `p` are (`Op::new(Rand { seed, dtype })`).
    pub fn new<P: crate::registry::Builtin>(p: P) -> Op {
        p.op()
    }

    /// `kernel` with `params`, which its body parsed or decoded.
    pub(crate) fn from_parts(kernel: Arc<Kernel>, params: Arc<dyn Any + Send + Sync>) -> Op {
        Op { kernel, params }
    }

    /// Its kernel record.
    pub fn kernel(&self) -> &Arc<Kernel> {
        &self.kernel
    }

    /// Its kernel's name (`add`, `heat_step`, `myapp::heat5`).
    pub fn name(&self) -> &'static str {
        self.kernel.name()
    }

    /// Its params, if they are a `P` (a built-in's params type).
    pub fn params<P: 'static>(&self) -> Option<&P> {
        self.params.downcast_ref::<P>()
    }

    /// Infers the result type from the argument types (the signature's arity and dtypes,
    /// then the kernel's rule), or says what is wrong.
    pub fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        self.kernel.signature().check(self.name(), args)?;
        self.kernel.body().infer(&*self.params, args)
    }

    /// Checks number literal `i` of a task whose result is an array of `dtype`.
    pub fn check_number(&self, i: usize, x: f64, dtype: DType) -> Result<(), String> {
        self.kernel.body().check_number(&*self.params, i, x, dtype)
    }

    /// Runs the CPU function.
    pub fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        self.kernel.body().run(&*self.params, args)
    }

    /// The static cost estimate, ns.
    pub fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        self.kernel.body().cost_ns(&*self.params, c)
    }

    /// What the GPU function covers; `None`: the kernel has none.
    pub fn gpu(&self) -> Option<Gpu> {
        self.kernel.gpu()
    }

    /// Runs the GPU function on `dev`, on arrays of `dtype`.
    pub fn launch(
        &self,
        dev: &dyn GpuOps,
        dtype: DType,
        args: &[DeviceInput<'_>],
    ) -> Result<DeviceOutput, DeviceError> {
        self.kernel.body().launch(&*self.params, dev, dtype, args)
    }

    /// The input file it reads (`load`, `load_tile`).
    pub fn input_file(&self) -> Option<&str> {
        self.kernel.body().input_file(&*self.params)
    }

    /// The dtype it makes when it has no array argument (`rand`, `fill`).
    pub fn own_dtype(&self) -> Option<DType> {
        self.kernel.body().own_dtype(&*self.params)
    }
}

impl PartialEq for Op {
    fn eq(&self, other: &Op) -> bool {
        (Arc::ptr_eq(&self.kernel, &other.kernel) || self.name() == other.name())
            && self.kernel.body().eq(&*self.params, &*other.params)
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name())?;
        self.kernel.body().fmt(&*self.params, f)?;
        f.write_str(")")
    }
}

impl Serialize for Op {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        self.kernel.body().encode(&*self.params, &mut bytes);
        let done = (self.name(), serde_bytes_ref(&bytes)).serialize(s);
        done
    }
}

/// `bytes` serialised as a byte string (postcard: a length and the bytes), not a sequence.
fn serde_bytes_ref(bytes: &[u8]) -> impl Serialize + '_ {
    struct B<'a>(&'a [u8]);
    impl Serialize for B<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
    B(bytes)
}

/// JSON params decoded on this thread, by kernel and text: a plan or a steal message names
/// one params text for many tasks, and each is parsed once. Bounded: cleared when full.
type Interned = HashMap<&'static str, HashMap<Box<[u8]>, Arc<dyn Any + Send + Sync>>>;
const INTERN_MAX: usize = 1 << 16;

thread_local! {
    static INTERNED: RefCell<(usize, Interned)> = RefCell::new((0, HashMap::new()));
    static KERNELS: RefCell<HashMap<Box<str>, Arc<Kernel>>> = RefCell::new(HashMap::new());
}

/// The kernel named `name` in this process's table (memoised per thread).
fn kernel_named(name: &str) -> Result<Arc<Kernel>, String> {
    if let Some(k) = KERNELS.with(|m| m.borrow().get(name).cloned()) {
        return Ok(k);
    }
    let k = crate::registry::find(name)
        .ok_or_else(|| format!("kernel {name} is not registered here"))?;
    KERNELS.with(|m| m.borrow_mut().insert(name.into(), Arc::clone(&k)));
    Ok(k)
}

/// Decodes `kernel`'s params from their wire form.
fn decode(kernel: &Kernel, bytes: &[u8]) -> Result<Arc<dyn Any + Send + Sync>, String> {
    let body = kernel.body();
    if !body.interned() {
        return body.decode(bytes);
    }
    let name = kernel.name();
    let hit = INTERNED.with(|c| c.borrow().1.get(name).and_then(|m| m.get(bytes)).cloned());
    if let Some(p) = hit {
        return Ok(p);
    }
    let p = body.decode(bytes)?;
    INTERNED.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 >= INTERN_MAX {
            *c = (0, HashMap::new());
        }
        c.0 += 1;
        c.1.entry(name)
            .or_default()
            .insert(bytes.into(), Arc::clone(&p));
    });
    Ok(p)
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Op, D::Error> {
        d.deserialize_tuple(2, OpVisitor)
    }
}

struct OpVisitor;

impl<'de> Visitor<'de> for OpVisitor {
    type Value = Op;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a kernel name and its params")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Op, A::Error> {
        let kernel = seq
            .next_element_seed(NameSeed)?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let params = seq
            .next_element_seed(ParamsSeed(&kernel))?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok(Op { kernel, params })
    }
}

/// A kernel name on the wire, looked up without copying it.
struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Arc<Kernel>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Arc<Kernel>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for NameSeed {
    type Value = Arc<Kernel>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a kernel name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Arc<Kernel>, E> {
        kernel_named(v).map_err(E::custom)
    }
}

/// A kernel's params on the wire, decoded without copying them.
struct ParamsSeed<'k>(&'k Kernel);

impl<'de> DeserializeSeed<'de> for ParamsSeed<'_> {
    type Value = Arc<dyn Any + Send + Sync>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl Visitor<'_> for ParamsSeed<'_> {
    type Value = Arc<dyn Any + Send + Sync>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a kernel's params")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        decode(self.0, v).map_err(E::custom)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) fn expect_shape<'a>(a: &ArgType<'a>, i: usize) -> Result<&'a [usize], String> {
    match a {
        ArgType::Shape(s) => Ok(s),
        _ => Err(format!("args[{i}] must be a shape (an array of integers)")),
    }
}

pub(crate) fn expect_scalar(a: &ArgType<'_>, i: usize) -> Result<(), String> {
    match a {
        ArgType::Number | ArgType::Value(ValueType::Scalar) => Ok(()),
        _ => Err(format!(
            "args[{i}] must be a number or the id of a task that yields a scalar"
        )),
    }
}

/// An elementwise operand: `Some(type)` for an array, `None` for a scalar.
pub(crate) fn operand<'a>(a: &ArgType<'a>, i: usize) -> Result<Option<&'a ValueType>, String> {
    match a {
        ArgType::Number | ArgType::Value(ValueType::Scalar) => Ok(None),
        ArgType::Value(t) => Ok(Some(t)),
        ArgType::Shape(_) => Err(format!(
            "args[{i}] is a shape; expected a task id or a number"
        )),
    }
}

pub(crate) fn matrix<'a>(
    a: &ArgType<'a>,
    i: usize,
    op: &str,
) -> Result<(DType, &'a [usize]), String> {
    match a {
        ArgType::Value(ValueType::Array { dtype, shape }) if shape.len() == 2 => {
            Ok((*dtype, shape.as_slice()))
        }
        ArgType::Value(t) => Err(format!("op {op} needs 2-D arrays; args[{i}] is a {t}")),
        _ => Err(format!("op {op}: args[{i}] must be the id of a task")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::stencil::Frame;
    use crate::kernels::{Add, HeatStep, LifeStep, Rand};

    fn round_trip(op: &Op) -> Op {
        postcard::from_bytes(&postcard::to_allocvec(op).unwrap()).unwrap()
    }

    #[test]
    fn built_in_ops_cross_the_wire_unchanged() {
        let ops = [
            Op::new(Add),
            Op::new(Rand {
                seed: 7,
                dtype: DType::U8,
            }),
            Op::new(HeatStep {
                alpha: 0.1,
                global: vec![64, 48],
                offset: vec![16, 0],
            }),
            Op::new(LifeStep {
                normalize: true,
                frame: Frame::PLAIN,
            }),
        ];
        for op in &ops {
            let back = round_trip(op);
            assert_eq!(&back, op);
            assert_eq!(format!("{back:?}"), format!("{op:?}"));
            assert!(
                Arc::ptr_eq(back.kernel(), op.kernel()),
                "{op:?}: the same record"
            );
        }
        assert_ne!(ops[0], ops[1]);
        assert_eq!(ops[1].params::<Rand>().unwrap().seed, 7);
        assert!(ops[0].params::<Rand>().is_none());
    }

    #[test]
    fn an_unknown_kernel_on_the_wire_is_an_error_naming_it() {
        let bytes = postcard::to_allocvec(&("nobody::here", &b"{}"[..])).unwrap();
        let e = postcard::from_bytes::<Op>(&bytes).unwrap_err().to_string();
        assert!(!e.is_empty());
        assert!(kernel_named("nobody::here")
            .unwrap_err()
            .contains("nobody::here"));
    }

    #[test]
    fn json_params_on_the_wire_are_parsed_once_per_text() {
        let r = crate::registry::Registry::empty().kernel("t::copy", |k| {
            k.args("[a]", 1).cpu(|i, _| Ok(i.array(0)?.clone()))
        });
        let k = r.get("t::copy").unwrap();
        let a = decode(&k, b"{}").unwrap();
        let b = decode(&k, b"{}").unwrap();
        assert!(Arc::ptr_eq(&a, &b), "one parse for one text");
        let c = decode(&k, b"{ }").unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(decode(&k, b"{\"x\": 1}").is_err(), "NoParams takes no key");
    }
}
