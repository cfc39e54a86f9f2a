//! `slice`: the block of an array at an offset (a tile's halo strip, so only the strip
//! crosses ranks, never the whole tile).

use crate::graph::op_tiled::window_fits;
use crate::graph::{ArgType, ValueType};
use crate::graph::{Array, Data, Value};
use crate::kernels::{array_in, Input, KernelError};
use crate::registry::{Builtin, CostArgs};
use serde::{Deserialize, Serialize};

fn copy<T: Copy>(v: &[T], whole: &[usize], offset: &[usize], shape: &[usize]) -> Vec<T> {
    let d = shape.len();
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let w = shape[d - 1];
    let mut idx = vec![0usize; d - 1];
    loop {
        let mut lin = 0usize;
        for a in 0..d - 1 {
            lin = lin * whole[a] + offset[a] + idx[a];
        }
        let start = lin * whole[d - 1] + offset[d - 1];
        out.extend_from_slice(&v[start..start + w]);
        let mut a = d - 1;
        loop {
            if a == 0 {
                return out;
            }
            a -= 1;
            idx[a] += 1;
            if idx[a] < shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
}

/// The block of `a` at `offset` with `shape` (checked to fit when the graph was built).
pub(super) fn slice(a: &Array, offset: &[usize], shape: &[usize]) -> Value {
    let s = a.shape();
    let data = match a.data() {
        Data::F64(v) => Data::F64(copy(v, s, offset, shape)),
        Data::F32(v) => Data::F32(copy(v, s, offset, shape)),
        Data::I64(v) => Data::I64(copy(v, s, offset, shape)),
        Data::U8(v) => Data::U8(copy(v, s, offset, shape)),
    };
    Value::Array(Array::new(shape.to_vec(), data))
}

/// `slice`: the block of `a` at `offset` with `shape` (a halo strip of a tile): args `[a]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    /// Where the block starts.
    pub offset: Vec<usize>,
    /// Extent of the block.
    pub shape: Vec<usize>,
}

impl Builtin for Slice {
    const NAME: &'static str = "slice";
    const ARGS: &'static str = "[a]";
    const ARITY: Option<usize> = Some(1);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let ArgType::Value(ValueType::Array {
            dtype,
            shape: whole,
        }) = &args[0]
        else {
            return Err(format!("op {}: args[0] must be an array task", Self::NAME));
        };
        window_fits(Self::NAME, &self.shape, &self.offset, whole)?;
        Ok(ValueType::Array {
            dtype: *dtype,
            shape: self.shape.clone(),
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(slice(array_in(args, 0), &self.offset, &self.shape))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        100.0 + 0.5 * c.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_a_block() {
        let a = Array::from_f64(vec![3, 4], (0..12).map(f64::from).collect());
        let s = slice(&a, &[1, 2], &[2, 2]);
        assert_eq!(
            s.as_array().unwrap().as_f64().unwrap(),
            &[6.0, 7.0, 10.0, 11.0]
        );
        let s = slice(&a, &[0, 3], &[3, 1]);
        assert_eq!(s.as_array().unwrap().as_f64().unwrap(), &[3.0, 7.0, 11.0]);
    }
}
