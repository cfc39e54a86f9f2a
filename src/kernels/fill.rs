//! `fill`: a constant array.

use crate::graph::{Array, DType, Data, Value};

/// An array of `shape` whose every element is `x` converted to `dtype`.
pub(super) fn fill(dtype: DType, shape: &[usize], x: f64) -> Value {
    let n: usize = shape.iter().product();
    let data = match dtype {
        DType::F64 => Data::F64(vec![x; n]),
        DType::F32 => Data::F32(vec![x as f32; n]),
        DType::I64 => Data::I64(vec![x as i64; n]),
        DType::U8 => Data::U8(vec![x as u8; n]),
    };
    Value::Array(Array::new(shape.to_vec(), data))
}
