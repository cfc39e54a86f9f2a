//! `taskbench`: one task of a Task Bench graph (`TaskBenchTask`), as Task Bench's
//! `TaskGraph::execute_point` does it: check every input, write the output, run the kernel.
//!
//! Each input must be `output_bytes` long and hold, in every 16-byte pair, (timestep − 1,
//! producer point) as little-endian i64s; anything else fails the task with a message naming
//! the task, the input and the position. The output holds (timestep, point) pairs (bytes past
//! the last whole pair are zero). The kernels are those of Task Bench's `core_kernel.cc`; the
//! compute kernels are written as scalar loops over 64 (32) independent lanes, which the
//! compiler vectorises for the target (Task Bench's AVX2 intrinsics need no `unsafe` here).
//! `memory_bound` copies inside a scratch buffer kept per worker thread (Task Bench keeps one
//! per point): the bytes moved per task are the same, the buffer is reused across tasks.

use super::{Input, KernelError};
use crate::graph::{ArgType, Array, DType, Data, Value, ValueType};
use crate::registry::{Builtin, CostArgs};
use crate::taskbench::{KernelKind, KernelSpec};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::hint::black_box;

/// What Task Bench writes into scratch memory before a run ("SCRATCHB", kinda).
const MAGIC: u64 = 0x5C4A_7C8B;

/// Runs one Task Bench task.
fn run_task(t: &TaskBenchTask, args: &[Input<'_>]) -> Result<Value, KernelError> {
    for (i, (arg, &dep)) in args.iter().zip(&t.inputs).enumerate() {
        let bytes = match arg {
            Input::Value(Value::Array(a)) => a.as_u8().unwrap_or(&[]),
            _ => &[],
        };
        check_input(t, i, dep, bytes)?;
    }
    let mut out = vec![0u8; t.output_bytes];
    for pair in out.chunks_exact_mut(16) {
        pair[..8].copy_from_slice(&t.timestep.to_le_bytes());
        pair[8..].copy_from_slice(&t.point.to_le_bytes());
    }
    execute(&t.kernel, t.graph, t.timestep, t.point, t.scratch_bytes)?;
    Ok(Value::Array(Array::new(
        vec![1, t.output_bytes],
        Data::U8(out),
    )))
}

fn check_input(t: &TaskBenchTask, i: usize, dep: i64, bytes: &[u8]) -> Result<(), KernelError> {
    // Formatted only on failure: eagerly, it cost 5 % of a worker's time at Task Bench's
    // floor (`-iter 1`, perf).
    let task = || {
        format!(
            "Task Bench detected a corrupted value in task (graph {} timestep {} point {}) \
             input {i}",
            t.graph, t.timestep, t.point
        )
    };
    if bytes.len() != t.output_bytes {
        return Err(KernelError(format!(
            "{}: expected {} bytes, got {}",
            task(),
            t.output_bytes,
            bytes.len()
        )));
    }
    for (k, pair) in bytes.chunks_exact(16).enumerate() {
        let ts = i64::from_le_bytes(pair[..8].try_into().expect("8 bytes"));
        let pt = i64::from_le_bytes(pair[8..].try_into().expect("8 bytes"));
        if ts != t.timestep - 1 || pt != dep {
            return Err(KernelError(format!(
                "{}: at position {k} within the buffer, expected value (timestep {} point \
                 {dep}) but got (timestep {ts} point {pt})",
                task(),
                t.timestep - 1
            )));
        }
    }
    Ok(())
}

/// Runs the kernel of the task at (`timestep`, `point`) of graph `graph`.
fn execute(
    k: &KernelSpec,
    graph: i64,
    timestep: i64,
    point: i64,
    scratch_bytes: usize,
) -> Result<(), KernelError> {
    match k.kind {
        KernelKind::Empty => {}
        KernelKind::BusyWait => {
            black_box(busy_wait(k.iterations));
        }
        KernelKind::ComputeBound => {
            black_box(compute_bound(k.iterations));
        }
        KernelKind::ComputeBound2 => {
            black_box(compute_bound2(k.iterations));
        }
        KernelKind::LoadImbalance => {
            black_box(compute_bound(k.iterations_at(graph, timestep, point)));
        }
        KernelKind::MemoryBound => memory_bound(k, scratch_bytes, timestep)?,
    }
    Ok(())
}

fn busy_wait(iterations: i64) -> i64 {
    let mut acc: i64 = black_box(113);
    for _ in 0..iterations {
        acc = acc * 139 % 2_147_483_647;
    }
    acc
}

/// 64 independent lanes of `a = a·a + a` per iteration: 128 FLOPs (Task Bench counts
/// 2·64·iterations + 64, the last 64 for the final product).
fn compute_bound(iterations: i64) -> f64 {
    let mut a = black_box([1.2345f64; 64]);
    for _ in 0..iterations {
        for x in a.iter_mut() {
            *x = *x * *x + *x;
        }
    }
    a.iter().product()
}

/// 32 independent lanes of `c += a·b` per iteration.
fn compute_bound2(iterations: i64) -> f64 {
    let a = black_box([1.2345f64; 32]);
    let b = black_box([1.010101f64; 32]);
    let mut c = [0f64; 32];
    for _ in 0..iterations {
        for i in 0..32 {
            c[i] += a[i] * b[i];
        }
    }
    c.iter().sum()
}

thread_local! {
    /// This worker thread's scratch buffer for `memory_bound`.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Task Bench's `copy`: the first half of the region onto the second.
fn copy(region: &mut [u8]) {
    let half = region.len() / 2;
    region.copy_within(0..half, half);
}

/// `execute_kernel_memory`: `iterations` copies of one sample (`scratch / samples` bytes),
/// walking round the buffer from where the previous timestep stopped.
fn memory_bound(k: &KernelSpec, scratch_bytes: usize, timestep: i64) -> Result<(), KernelError> {
    SCRATCH.with(|cell| {
        let mut buf = cell.borrow_mut();
        if buf.len() != scratch_bytes {
            buf.clear();
            buf.extend((0..scratch_bytes / 8).flat_map(|_| MAGIC.to_le_bytes()));
        }
        if buf.len() < 8 || u64::from_le_bytes(buf[..8].try_into().expect("8 bytes")) != MAGIC {
            return Err(KernelError(
                "Task Bench scratch memory was corrupted".into(),
            ));
        }
        let samples = i64::from(k.samples);
        let iters = k.iterations;
        let sample_bytes = scratch_bytes as i64 / samples;
        let len = buf.len();
        let mut region = |start: i64, n: i64| {
            let a = ((start * sample_bytes) as usize).min(len);
            let b = (((start + n) * sample_bytes) as usize).min(len);
            copy(&mut buf[a..b]);
        };
        let mut iter = 0;
        let start = (timestep * iters + iter) % samples;
        let n = samples.min(start + iters) - start;
        if n > 0 {
            region(start, n);
            iter += n;
        }
        while iter + samples <= iters {
            region((timestep * iters + iter) % samples, samples);
            iter += samples;
        }
        let n = iters - iter;
        if n > 0 {
            region((timestep * iters + iter) % samples, n);
        }
        Ok(())
    })
}

/// `taskbench`: one task of a Task Bench graph (`crate::taskbench`): args are the outputs of
/// its producers at the previous timestep, in `inputs` order; each is checked to hold
/// (timestep − 1, producer) pairs, then the kernel runs and the result, a u8 array of shape
/// [1, output_bytes], holds (timestep, point) pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskBenchTask {
    /// Which of the app's graphs (`-and`) the task belongs to.
    pub graph: i64,
    /// Its timestep (row).
    pub timestep: i64,
    /// Its point (column).
    pub point: i64,
    /// The kernel it runs.
    pub kernel: KernelSpec,
    /// Bytes of its output (`-output`).
    pub output_bytes: usize,
    /// Bytes of scratch memory (`-scratch`).
    pub scratch_bytes: usize,
    /// The producers' points at timestep − 1, one per argument, in argument order.
    pub inputs: Vec<i64>,
}

impl Builtin for TaskBenchTask {
    const NAME: &'static str = "taskbench";
    const ARGS: &'static str = "[producer outputs..]";
    const ARITY: Option<usize> = None;
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let name = Self::NAME;
        if args.len() != self.inputs.len() {
            return Err(format!(
                "op {name} takes {} arguments, got {}",
                self.inputs.len(),
                args.len()
            ));
        }
        let shape = vec![1, self.output_bytes];
        for (i, a) in args.iter().enumerate() {
            match a {
                ArgType::Value(ValueType::Array { dtype: DType::U8, shape: s }) if *s == shape => {}
                _ => {
                    return Err(format!(
                        "op {name}: args[{i}] must be a u8 array of shape {shape:?} (a Task Bench output)"
                    ))
                }
            }
        }
        Ok(ValueType::Array {
            dtype: DType::U8,
            shape,
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        run_task(self, args)
    }

    // FLOPs at about 8 per ns, copied bytes at about 5 per ns, busy_wait iterations about
    // 5 ns each.
    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        let k = &self.kernel;
        let work = match k.kind {
            KernelKind::Empty => 0.0,
            KernelKind::BusyWait => 5.0 * k.iterations as f64,
            KernelKind::MemoryBound => k.bytes(self.scratch_bytes as i64) as f64 / 5.0,
            _ => k.flops(self.graph, self.timestep, self.point) as f64 / 8.0,
        };
        100.0 + work + 0.1 * c.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(timestep: i64, point: i64, inputs: Vec<i64>, kind: KernelKind) -> TaskBenchTask {
        TaskBenchTask {
            graph: 0,
            timestep,
            point,
            kernel: KernelSpec {
                kind,
                iterations: 10,
                samples: 4,
                imbalance: 0.5,
            },
            output_bytes: 40,
            scratch_bytes: 64,
            inputs,
        }
    }

    fn out(v: &Value) -> &[u8] {
        v.as_array().unwrap().as_u8().unwrap()
    }

    #[test]
    fn output_encodes_the_task_and_inputs_are_checked() {
        for kind in [
            KernelKind::Empty,
            KernelKind::BusyWait,
            KernelKind::ComputeBound,
            KernelKind::ComputeBound2,
            KernelKind::LoadImbalance,
            KernelKind::MemoryBound,
        ] {
            let a = run_task(&task(0, 3, vec![], kind), &[]).unwrap();
            let b = run_task(&task(0, 4, vec![], kind), &[]).unwrap();
            let o = out(&a);
            assert_eq!(o.len(), 40);
            assert_eq!(&o[..8], &0i64.to_le_bytes());
            assert_eq!(&o[8..16], &3i64.to_le_bytes());
            assert_eq!(&o[32..], &[0u8; 8]);
            // Timestep 1, point 3 reads points 3 and 4 of timestep 0.
            let ok = run_task(
                &task(1, 3, vec![3, 4], kind),
                &[Input::Value(&a), Input::Value(&b)],
            );
            assert!(ok.is_ok(), "{kind:?}");
            // The same inputs in the wrong order: a validation failure.
            let err = run_task(
                &task(1, 3, vec![3, 4], kind),
                &[Input::Value(&b), Input::Value(&a)],
            )
            .unwrap_err();
            assert!(
                err.0.contains("expected value (timestep 0 point 3)"),
                "{}",
                err.0
            );
            // An input of the wrong timestep.
            let err = run_task(&task(2, 3, vec![3], kind), &[Input::Value(&a)]).unwrap_err();
            assert!(err.0.contains("input 0"), "{}", err.0);
        }
    }

    #[test]
    fn memory_bound_walks_the_samples() {
        let k = KernelSpec {
            kind: KernelKind::MemoryBound,
            iterations: 37,
            samples: 16,
            imbalance: 0.0,
        };
        for t in 0..5 {
            memory_bound(&k, 4096, t).unwrap();
        }
    }
}
