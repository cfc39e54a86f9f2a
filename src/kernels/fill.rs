//! `fill`: a constant array.

use crate::device::{number_arg, shape_arg, DeviceInput, GpuOps, Launched};
use crate::graph::op::{expect_scalar, expect_shape};
use crate::graph::{ArgType, ValueType};
use crate::graph::{Array, DType, Data, Value};
use crate::job::{JobError, Params};
use crate::kernels::{elementwise::literal, shape_in, Input, KernelError, ALL};
use crate::registry::{Builtin, CostArgs, Gpu};
use serde::{Deserialize, Serialize};
use std::path::Path;

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

/// `fill`: a constant array: args `[shape, value]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// Element type.
    pub dtype: DType,
}

impl Builtin for Fill {
    const NAME: &'static str = "fill";
    const ARGS: &'static str = "[shape, value]";
    const ARITY: Option<usize> = Some(2);
    const IN_JOBS: bool = true;
    const GPU: Option<Gpu> = Gpu::exact(ALL);
    crate::builtin_record!();

    fn parse(p: &mut Params<'_>, _: &Path) -> Result<Self, JobError> {
        Ok(Fill { dtype: p.dtype()? })
    }

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let shape = expect_shape(&args[0], 0)?;
        expect_scalar(&args[1], 1)?;
        Ok(ValueType::Array {
            dtype: self.dtype,
            shape: shape.to_vec(),
        })
    }

    fn check_number(&self, i: usize, x: f64, dtype: DType) -> Result<(), String> {
        literal(i, x, dtype)
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(fill(
            self.dtype,
            shape_in(args, 0),
            args[1].scalar().expect("typed"),
        ))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        100.0 + 0.5 * c.len()
    }

    fn launch(&self, dev: &dyn GpuOps, dtype: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.fill_array(dtype, shape_arg(args, 0), number_arg(args, 1))
    }

    fn own_dtype(&self) -> Option<DType> {
        Some(self.dtype)
    }
}
