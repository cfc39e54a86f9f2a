//! `busy`: burn CPU for a number of steps of a fixed arithmetic loop (about 1 ns each), for
//! scheduling benchmarks.

use crate::graph::{ArgType, Value, ValueType};
use crate::job::{JobError, Params};
use crate::kernels::{value_in, Input, KernelError};
use crate::registry::{Builtin, CostArgs};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::path::Path;

/// Runs `iterations` dependent multiply-adds that the compiler cannot remove.
pub(super) fn burn(iterations: u64) {
    let mut x = black_box(1.0f64);
    for _ in 0..iterations {
        x = x * 0.999_999_9 + 1e-7;
    }
    black_box(x);
}

/// `busy`: returns its input after burning CPU for `iterations` steps: args `[a]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Busy {
    /// Steps of a fixed arithmetic loop, about a nanosecond each.
    pub iterations: u64,
}

impl Builtin for Busy {
    const NAME: &'static str = "busy";
    const ARGS: &'static str = "[a]";
    const ARITY: Option<usize> = Some(1);
    const IN_JOBS: bool = true;
    crate::builtin_record!();

    fn parse(p: &mut Params<'_>, _: &Path) -> Result<Self, JobError> {
        Ok(Busy {
            iterations: p.u64_or("iterations", 0)?,
        })
    }

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        match &args[0] {
            ArgType::Value(t) => Ok((*t).clone()),
            _ => Err("op busy takes the value of a task as args[0]".into()),
        }
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        burn(self.iterations);
        Ok(value_in(args, 0).clone())
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        100.0 + self.iterations as f64 + 0.5 * c.len()
    }
}
