//! `rand`: uniform random arrays from a counter-based generator.
//!
//! Element `i` is a hash of `(seed, i)` (SplitMix64 finalizer), so the array is a pure
//! function of seed, shape and dtype: any rank, any thread count, any chunking gives the same
//! bits. Floats are uniform in [0, 1) (53 or 24 random mantissa bits); integer dtypes get 0 or
//! 1 with equal probability (the integers in [0, 1] — a random Life grid, say).

use crate::device::{shape_arg, DeviceInput, GpuOps, Launched};
use crate::graph::{op::expect_shape, ArgType, ValueType};
use crate::graph::{Array, DType, Data, Value};
use crate::job::{JobError, Params};
use crate::kernels::{shape_in, Input, KernelError, ALL};
use crate::registry::{Builtin, CostArgs, Gpu};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The SplitMix64 output function: a bijective 64-bit mixer.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The random 64 bits of element `i` of stream `seed`.
#[inline]
pub(crate) fn bits(seed: u64, i: u64) -> u64 {
    mix64(mix64(seed ^ 0x6a09_e667_f3bc_c908).wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
}

fn generate<T: Send>(seed: u64, n: usize, f: impl Fn(u64) -> T + Sync + Send) -> Vec<T> {
    if n >= super::PAR_MIN {
        (0..n as u64)
            .into_par_iter()
            .map(|i| f(bits(seed, i)))
            .collect()
    } else {
        (0..n as u64).map(|i| f(bits(seed, i))).collect()
    }
}

/// The f64 in [0, 1) drawn from 64 random bits (53 mantissa bits).
#[inline]
pub(super) fn unit_f64(b: u64) -> f64 {
    (b >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The f32 in [0, 1) drawn from 64 random bits (24 mantissa bits).
#[inline]
pub(super) fn unit_f32(b: u64) -> f32 {
    (b >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// 0 or 1 from 64 random bits (the top bit).
#[inline]
pub(super) fn coin(b: u64) -> u8 {
    (b >> 63) as u8
}

/// A uniform random array.
pub(super) fn rand(seed: u64, dtype: DType, shape: &[usize]) -> Value {
    let n: usize = shape.iter().product();
    let data = match dtype {
        DType::F64 => Data::F64(generate(seed, n, unit_f64)),
        DType::F32 => Data::F32(generate(seed, n, unit_f32)),
        DType::I64 => Data::I64(generate(seed, n, |b| i64::from(coin(b)))),
        DType::U8 => Data::U8(generate(seed, n, coin)),
    };
    Value::Array(Array::new(shape.to_vec(), data))
}

/// `rand`: uniform [0,1) values (0 or 1 for integer dtypes), a pure function of (seed,
/// shape, dtype): args `[shape]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rand {
    /// Seed of the counter-based generator.
    pub seed: u64,
    /// Element type.
    pub dtype: DType,
}

impl Builtin for Rand {
    const NAME: &'static str = "rand";
    const ARGS: &'static str = "[shape]";
    const ARITY: Option<usize> = Some(1);
    const IN_JOBS: bool = true;
    const GPU: Option<Gpu> = Gpu::exact(ALL);
    crate::builtin_record!();

    fn parse(p: &mut Params<'_>, _: &Path) -> Result<Self, JobError> {
        Ok(Rand {
            seed: p.u64_or("seed", 0)?,
            dtype: p.dtype()?,
        })
    }

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let shape = expect_shape(&args[0], 0)?;
        Ok(ValueType::Array {
            dtype: self.dtype,
            shape: shape.to_vec(),
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(rand(self.seed, self.dtype, shape_in(args, 0)))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        200.0 + 2.0 * c.len()
    }

    fn launch(&self, dev: &dyn GpuOps, dtype: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.rand_array(self.seed, dtype, shape_arg(args, 0))
    }

    fn own_dtype(&self) -> Option<DType> {
        Some(self.dtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_only_on_seed_shape_dtype() {
        let a = rand(7, DType::F64, &[100_000]);
        let b = rand(7, DType::F64, &[100_000]);
        assert_eq!(a, b);
        assert_ne!(a, rand(8, DType::F64, &[100_000]));
        let v = a.as_array().unwrap().as_f64().unwrap().to_vec();
        assert!(v.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    }

    #[test]
    fn integer_dtypes_are_zero_or_one() {
        let a = rand(1, DType::U8, &[1000]);
        let v = a.as_array().unwrap().as_u8().unwrap();
        assert!(v.iter().all(|&x| x <= 1));
        assert!(v.contains(&1) && v.contains(&0));
    }
}
