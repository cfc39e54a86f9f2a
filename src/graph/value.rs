//! Values that flow along the edges of a task graph: dense row-major arrays and scalars.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Element type of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DType {
    /// 64-bit IEEE float (the default).
    F64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit signed integer.
    I64,
    /// 8-bit unsigned integer (Life grids).
    U8,
}

impl DType {
    /// True when `x` is exactly a value of this type: any finite or infinite number for the
    /// floats (f32 rounds), a whole number in range for the integers. A scalar operand takes
    /// its array's dtype, and an integer array must not get a clamped or truncated one.
    pub fn holds(self, x: f64) -> bool {
        match self {
            DType::F64 | DType::F32 => true,
            // 2^63 is the first f64 past i64::MAX; -2^63 is i64::MIN exactly.
            DType::I64 => {
                let two_63 = 2f64.powi(63);
                x.fract() == 0.0 && (-two_63..two_63).contains(&x)
            }
            DType::U8 => x.fract() == 0.0 && (0.0..=255.0).contains(&x),
        }
    }

    /// Parses the job-file spelling (`"f64"`, `"f32"`, `"i64"`, `"u8"`).
    pub fn parse(s: &str) -> Option<DType> {
        match s {
            "f64" | "float64" => Some(DType::F64),
            "f32" | "float32" => Some(DType::F32),
            "i64" | "int64" => Some(DType::I64),
            "u8" | "uint8" => Some(DType::U8),
            _ => None,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 => 4,
            DType::U8 => 1,
        }
    }

    /// The job-file spelling.
    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "f64",
            DType::F32 => "f32",
            DType::I64 => "i64",
            DType::U8 => "u8",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The static type of a value: known for every task before anything runs, so receivers can
/// allocate exactly and validation can reject shape mismatches up front.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValueType {
    /// An f64 scalar.
    Scalar,
    /// A dense array.
    Array {
        /// Element type.
        dtype: DType,
        /// Extent along each axis, row-major.
        shape: Vec<usize>,
    },
}

impl ValueType {
    /// Number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        match self {
            ValueType::Scalar => 1,
            ValueType::Array { shape, .. } => shape.iter().product(),
        }
    }

    /// True for an array with no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size in bytes of the value's payload.
    pub fn bytes(&self) -> usize {
        match self {
            ValueType::Scalar => 8,
            ValueType::Array { dtype, .. } => self.len() * dtype.size(),
        }
    }

    /// Size in bytes, or `None` when it exceeds `isize::MAX` (what no allocation can hold;
    /// the plain `len` and `bytes` would wrap). `Graph` refuses such a task, so every value
    /// of a graph has a size `bytes` can compute.
    pub fn checked_bytes(&self) -> Option<usize> {
        let bytes = match self {
            ValueType::Scalar => 8,
            ValueType::Array { dtype, shape } => shape
                .iter()
                .try_fold(dtype.size(), |acc, &n| acc.checked_mul(n))?,
        };
        (bytes <= isize::MAX as usize).then_some(bytes)
    }

    /// The element type (a scalar is f64).
    pub fn dtype(&self) -> DType {
        match self {
            ValueType::Scalar => DType::F64,
            ValueType::Array { dtype, .. } => *dtype,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueType::Scalar => f.write_str("scalar"),
            ValueType::Array { dtype, shape } => write!(f, "{dtype} array {shape:?}"),
        }
    }
}

/// The elements of an array, one variant per dtype.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// f64 elements.
    F64(Vec<f64>),
    /// f32 elements.
    F32(Vec<f32>),
    /// i64 elements.
    I64(Vec<i64>),
    /// u8 elements.
    U8(Vec<u8>),
}

impl Data {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Data::F64(_) => DType::F64,
            Data::F32(_) => DType::F32,
            Data::I64(_) => DType::I64,
            Data::U8(_) => DType::U8,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Data::F64(v) => v.len(),
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::U8(v) => v.len(),
        }
    }

    /// Elements the buffer has room for without reallocating (`graph::buffers`).
    pub fn capacity(&self) -> usize {
        match self {
            Data::F64(v) => v.capacity(),
            Data::F32(v) => v.capacity(),
            Data::I64(v) => v.capacity(),
            Data::U8(v) => v.capacity(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A dense row-major N-d array.
#[derive(Debug)]
pub struct Array {
    shape: Vec<usize>,
    data: Data,
    /// The buffer came from `graph::buffers` and goes back there when the array dies.
    recycle: bool,
}

/// A copy is fresh memory: it is not recycled.
impl Clone for Array {
    fn clone(&self) -> Array {
        Array {
            shape: self.shape.clone(),
            data: self.data.clone(),
            recycle: false,
        }
    }
}

/// Equal shapes and elements; where the buffer came from does not matter.
impl PartialEq for Array {
    fn eq(&self, other: &Array) -> bool {
        self.shape == other.shape && self.data == other.data
    }
}

impl Array {
    /// Wraps `data` as an array of `shape`; panics if the element count differs (a bug).
    pub fn new(shape: Vec<usize>, data: Data) -> Array {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "array shape {shape:?} does not match {} elements",
            data.len()
        );
        Array {
            shape,
            data,
            recycle: false,
        }
    }

    /// Like `new`, for a buffer taken from `graph::buffers::take`: when the array dies, the
    /// buffer goes back to the pool for the next kernel that needs one of its size.
    pub fn recycled(shape: Vec<usize>, data: Data) -> Array {
        let mut a = Array::new(shape, data);
        a.recycle = true;
        a
    }

    /// An f64 array.
    pub fn from_f64(shape: Vec<usize>, v: Vec<f64>) -> Array {
        Array::new(shape, Data::F64(v))
    }

    /// Extent along each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements.
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// Consumes the array, returning its elements.
    pub fn into_data(mut self) -> Data {
        std::mem::replace(&mut self.data, Data::U8(Vec::new()))
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The f64 elements, if this is an f64 array.
    pub fn as_f64(&self) -> Option<&[f64]> {
        match &self.data {
            Data::F64(v) => Some(v),
            _ => None,
        }
    }

    /// The u8 elements, if this is a u8 array.
    pub fn as_u8(&self) -> Option<&[u8]> {
        match &self.data {
            Data::U8(v) => Some(v),
            _ => None,
        }
    }
}

/// A dying recycled array hands its buffer back to the tile-buffer pool (see
/// `graph::buffers`); any other array frees it as usual.
impl Drop for Array {
    fn drop(&mut self) {
        if self.recycle {
            super::buffers::give(std::mem::replace(&mut self.data, Data::U8(Vec::new())));
        }
    }
}

/// What a task produces.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An f64 scalar (`sum`).
    Scalar(f64),
    /// A dense array.
    Array(Array),
}

impl Value {
    /// The static type of this value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Scalar(_) => ValueType::Scalar,
            Value::Array(a) => ValueType::Array {
                dtype: a.dtype(),
                shape: a.shape().to_vec(),
            },
        }
    }

    /// True when this value has type `ty` (what comparing `value_type` says, without
    /// allocating a shape).
    pub fn is_of(&self, ty: &ValueType) -> bool {
        match (self, ty) {
            (Value::Scalar(_), ValueType::Scalar) => true,
            (Value::Array(a), ValueType::Array { dtype, shape }) => {
                a.dtype() == *dtype && a.shape() == shape.as_slice()
            }
            _ => false,
        }
    }

    /// Payload size in bytes.
    pub fn bytes(&self) -> usize {
        match self {
            Value::Scalar(_) => 8,
            Value::Array(a) => a.len() * a.dtype().size(),
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            Value::Scalar(_) => None,
        }
    }

    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<f64> {
        match self {
            Value::Scalar(x) => Some(*x),
            Value::Array(_) => None,
        }
    }
}
