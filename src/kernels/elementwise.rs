//! `add`, `sub`, `mul`, `div`: elementwise on arrays of one dtype and shape, or an array and a
//! scalar (the scalar takes the array's dtype), or two scalars.
//!
//! Integer arithmetic wraps (u8, i64); integer division by zero is a task failure.

use super::{Input, KernelError, ALL, CHUNK, FLOATS, PAR_MIN};
use crate::device::{DeviceInput, GpuOps, Launched};
use crate::graph::op::operand;
use crate::graph::{ArgType, Array, DType, Data, Value, ValueType};
use crate::job::{JobError, Params};
use crate::registry::{Builtin, CostArgs, Gpu};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An elementwise binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
}

/// An element type the operators know.
trait Elem: Copy + Send + Sync + PartialEq {
    const ZERO_DIVIDES: bool;
    const DTYPE: DType;
    fn zero() -> Self;
    fn from_f64(x: f64) -> Self;
    fn apply(op: BinOp, a: Self, b: Self) -> Self;
}

macro_rules! float_elem {
    ($t:ty, $d:ident) => {
        impl Elem for $t {
            const ZERO_DIVIDES: bool = false;
            const DTYPE: DType = DType::$d;
            fn zero() -> Self {
                0.0
            }
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn apply(op: BinOp, a: Self, b: Self) -> Self {
                match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                }
            }
        }
    };
}

macro_rules! int_elem {
    ($t:ty, $d:ident) => {
        impl Elem for $t {
            const ZERO_DIVIDES: bool = true;
            const DTYPE: DType = DType::$d;
            fn zero() -> Self {
                0
            }
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn apply(op: BinOp, a: Self, b: Self) -> Self {
                match op {
                    BinOp::Add => a.wrapping_add(b),
                    BinOp::Sub => a.wrapping_sub(b),
                    BinOp::Mul => a.wrapping_mul(b),
                    BinOp::Div => a.wrapping_div(b),
                }
            }
        }
    };
}

float_elem!(f64, F64);
float_elem!(f32, F32);
int_elem!(i64, I64);
int_elem!(u8, U8);

/// The right-hand side: an array or a broadcast scalar.
#[derive(Clone, Copy)]
enum Side<'a, T> {
    Array(&'a [T]),
    Scalar(T),
}

// The operator is matched once per call, outside the element loop, so each loop is a
// straight-line kernel the compiler can vectorise.
fn zip<T: Elem>(op: BinOp, a: Side<'_, T>, b: Side<'_, T>, n: usize) -> Vec<T> {
    fn run<T: Elem>(
        a: Side<'_, T>,
        b: Side<'_, T>,
        n: usize,
        f: impl Fn(T, T) -> T + Sync + Send,
    ) -> Vec<T> {
        match (a, b) {
            (Side::Array(x), Side::Array(y)) if n >= PAR_MIN => x
                .par_iter()
                .with_min_len(CHUNK)
                .zip(y.par_iter())
                .map(|(&p, &q)| f(p, q))
                .collect(),
            (Side::Array(x), Side::Array(y)) => x.iter().zip(y).map(|(&p, &q)| f(p, q)).collect(),
            (Side::Array(x), Side::Scalar(s)) if n >= PAR_MIN => {
                x.par_iter().with_min_len(CHUNK).map(|&p| f(p, s)).collect()
            }
            (Side::Array(x), Side::Scalar(s)) => x.iter().map(|&p| f(p, s)).collect(),
            (Side::Scalar(s), Side::Array(y)) if n >= PAR_MIN => {
                y.par_iter().with_min_len(CHUNK).map(|&q| f(s, q)).collect()
            }
            (Side::Scalar(s), Side::Array(y)) => y.iter().map(|&q| f(s, q)).collect(),
            (Side::Scalar(p), Side::Scalar(q)) => vec![f(p, q)],
        }
    }
    match op {
        BinOp::Add => run(a, b, n, |p, q| T::apply(BinOp::Add, p, q)),
        BinOp::Sub => run(a, b, n, |p, q| T::apply(BinOp::Sub, p, q)),
        BinOp::Mul => run(a, b, n, |p, q| T::apply(BinOp::Mul, p, q)),
        BinOp::Div => run(a, b, n, |p, q| T::apply(BinOp::Div, p, q)),
    }
}

fn typed<T: Elem>(
    op: BinOp,
    a: Option<&[T]>,
    b: Option<&[T]>,
    sa: f64,
    sb: f64,
    n: usize,
) -> Result<Vec<T>, KernelError> {
    fn side<T: Elem>(v: Option<&[T]>, s: f64) -> Side<'_, T> {
        match v {
            Some(v) => Side::Array(v),
            None => Side::Scalar(T::from_f64(s)),
        }
    }
    // A literal scalar was checked when the graph was built; one computed at run time (a
    // `sum`) is checked here, since `as` would clamp or truncate it.
    for (v, s) in [(a, sa), (b, sb)] {
        if v.is_none() && !T::DTYPE.holds(s) {
            return Err(KernelError(format!(
                "the scalar {s} is not a {} value, and an operand takes its array's dtype",
                T::DTYPE
            )));
        }
    }
    let (a, b) = (side(a, sa), side(b, sb));
    if op == BinOp::Div && T::ZERO_DIVIDES {
        let zero = match b {
            Side::Array(y) => y.iter().any(|&q| q == T::zero()),
            Side::Scalar(q) => q == T::zero(),
        };
        if zero {
            return Err(KernelError("integer division by zero".into()));
        }
    }
    Ok(zip(op, a, b, n))
}

/// Applies `op` elementwise.
pub(super) fn binary(op: BinOp, a: Input<'_>, b: Input<'_>) -> Result<Value, KernelError> {
    fn arr<'a>(x: Input<'a>) -> Option<&'a Array> {
        match x {
            Input::Value(Value::Array(a)) => Some(a),
            _ => None,
        }
    }
    let (aa, ab) = (arr(a), arr(b));
    let (sa, sb) = (a.scalar().unwrap_or(0.0), b.scalar().unwrap_or(0.0));
    let Some(template) = aa.or(ab) else {
        return Ok(Value::Scalar(f64::apply(op, sa, sb)));
    };
    let n = template.len();
    macro_rules! go {
        ($variant:ident, $t:ty) => {{
            fn pick(x: Option<&Array>) -> Option<&[$t]> {
                match x.map(Array::data) {
                    Some(Data::$variant(v)) => Some(v.as_slice()),
                    Some(_) => panic!("elementwise dtypes were checked when the graph was built"),
                    None => None,
                }
            }
            Data::$variant(typed(op, pick(aa), pick(ab), sa, sb, n)?)
        }};
    }
    let data = match template.data() {
        Data::F64(_) => go!(F64, f64),
        Data::F32(_) => go!(F32, f32),
        Data::I64(_) => go!(I64, i64),
        Data::U8(_) => go!(U8, u8),
    };
    Ok(Value::Array(Array::new(template.shape().to_vec(), data)))
}

/// Checks number literal `i` of an elementwise or `fill` task whose result is an array of
/// `dtype`: the literal takes the array's dtype exactly.
pub(super) fn literal(i: usize, x: f64, dtype: DType) -> Result<(), String> {
    if dtype.holds(x) {
        Ok(())
    } else {
        Err(format!(
            "argument {i}: {x} is not a {dtype} value (a scalar takes the array's dtype exactly)"
        ))
    }
}

/// The typing rule of the four operators: arrays of one dtype and shape, or an array and a
/// scalar, or two scalars.
fn infer(name: &str, args: &[ArgType<'_>]) -> Result<ValueType, String> {
    let a = operand(&args[0], 0)?;
    let b = operand(&args[1], 1)?;
    match (a, b) {
        (None, None) => Ok(ValueType::Scalar),
        (Some(t), None) | (None, Some(t)) => Ok(t.clone()),
        (Some(ta), Some(tb)) if ta == tb => Ok(ta.clone()),
        (Some(ta), Some(tb)) => Err(format!(
            "op {name} needs arrays of one dtype and shape: got {ta} and {tb}"
        )),
    }
}

/// One record per operator: `$ty` names its params type (a unit struct), `$gpu` the dtypes
/// its GPU function covers.
macro_rules! operator {
    ($ty:ident, $name:literal, $gpu:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub struct $ty;

        impl Builtin for $ty {
            const NAME: &'static str = $name;
            const ARGS: &'static str = "[a, b]";
            const ARITY: Option<usize> = Some(2);
            const IN_JOBS: bool = true;
            const GPU: Option<Gpu> = Gpu::exact($gpu);
            crate::builtin_record!();

            fn parse(_: &mut Params<'_>, _: &Path) -> Result<Self, JobError> {
                Ok($ty)
            }

            fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
                infer($name, args)
            }

            fn check_number(&self, i: usize, x: f64, dtype: DType) -> Result<(), String> {
                literal(i, x, dtype)?;
                let int = matches!(dtype, DType::I64 | DType::U8);
                if BinOp::$ty == BinOp::Div && i == 1 && x == 0.0 && int {
                    return Err("integer division by zero".into());
                }
                Ok(())
            }

            fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
                binary(BinOp::$ty, args[0], args[1])
            }

            fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
                100.0 + 1.0 * c.len()
            }

            fn launch(&self, dev: &dyn GpuOps, dtype: DType, args: &[DeviceInput<'_>]) -> Launched {
                dev.elementwise($name, dtype, &args[0], &args[1])
            }
        }
    };
}

operator!(Add, "add", ALL, "`add`: elementwise `a + b`.");
operator!(Sub, "sub", ALL, "`sub`: elementwise `a - b`.");
operator!(
    Mul,
    "mul",
    ALL,
    "`mul`: elementwise `a * b` (integers wrap)."
);
operator!(
    Div,
    "div",
    FLOATS,
    "`div`: elementwise `a / b`; integer division by zero fails the task (integer `div` \
     stays on the CPU, which reports it)."
);

#[cfg(test)]
mod tests {
    use super::*;

    fn f64s(v: &[f64]) -> Value {
        Value::Array(Array::from_f64(vec![v.len()], v.to_vec()))
    }

    /// A scalar operand takes its array's dtype, exactly or not at all: `as` would clamp -1
    /// to 0 for u8 (an add that does nothing) and truncate 0.5 to a zero divisor.
    #[test]
    fn an_integer_array_refuses_a_scalar_it_cannot_hold() {
        let u = Value::Array(Array::new(vec![2], Data::U8(vec![7, 7])));
        for bad in [-1.0, 256.0, 0.5, f64::NAN] {
            let e = binary(BinOp::Add, Input::Value(&u), Input::Number(bad)).unwrap_err();
            assert!(e.0.contains("not a u8 value"), "{bad}: {}", e.0);
        }
        let r = binary(BinOp::Add, Input::Value(&u), Input::Number(255.0)).unwrap();
        assert_eq!(
            r,
            Value::Array(Array::new(vec![2], Data::U8(vec![6, 6]))),
            "wraps"
        );
        let i = Value::Array(Array::new(vec![1], Data::I64(vec![7])));
        assert!(binary(BinOp::Mul, Input::Value(&i), Input::Number(2.5)).is_err());
        assert!(binary(BinOp::Mul, Input::Number(9.3e18), Input::Value(&i)).is_err());
        let r = binary(BinOp::Mul, Input::Value(&i), Input::Number(-3.0)).unwrap();
        assert_eq!(r, Value::Array(Array::new(vec![1], Data::I64(vec![-21]))));
    }

    #[test]
    fn array_scalar_and_scalar_array() {
        let x = f64s(&[1.0, 2.0, 4.0]);
        let r = binary(BinOp::Sub, Input::Value(&x), Input::Number(1.0)).unwrap();
        assert_eq!(r, f64s(&[0.0, 1.0, 3.0]));
        let r = binary(BinOp::Div, Input::Number(8.0), Input::Value(&x)).unwrap();
        assert_eq!(r, f64s(&[8.0, 4.0, 2.0]));
        let r = binary(BinOp::Mul, Input::Number(3.0), Input::Number(2.0)).unwrap();
        assert_eq!(r, Value::Scalar(6.0));
    }

    #[test]
    fn large_arrays_take_the_parallel_path_with_the_same_result() {
        let n = PAR_MIN * 3 + 7;
        let a: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
        let b: Vec<f64> = (0..n).map(|i| 1.0 + i as f64).collect();
        let (va, vb) = (f64s(&a), f64s(&b));
        let r = binary(BinOp::Div, Input::Value(&va), Input::Value(&vb)).unwrap();
        let expect: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x / y).collect();
        assert_eq!(r, f64s(&expect));
    }

    #[test]
    fn integer_division_by_zero_fails() {
        let x = Value::Array(Array::new(vec![2], Data::I64(vec![4, 0])));
        assert!(binary(BinOp::Div, Input::Number(1.0), Input::Value(&x)).is_err());
        let u = Value::Array(Array::new(vec![1], Data::U8(vec![250])));
        let r = binary(BinOp::Add, Input::Value(&u), Input::Number(10.0)).unwrap();
        assert_eq!(r, Value::Array(Array::new(vec![1], Data::U8(vec![4]))));
    }
}
