//! What the scheduler calls to run one task on the rank's device.
//!
//! For one task (`DeviceContext::run`):
//!
//! 1. Check the device has a kernel for the op and dtype; if not, report `Unsupported` (the
//!    scheduler runs the CPU kernel).
//! 2. Stage the inputs, under the staging lock so two tasks never upload one slot twice:
//!    each array input is pinned from the cache or reserved and uploaded, then cached pinned.
//!    Room for the output is reserved too. When memory is short even after eviction, every
//!    pin and reservation is returned and the task falls back to the CPU (`OutOfMemory`).
//! 3. Launch (outside the lock; tasks on different streams overlap).
//! 4. Download the result (write-through: the host holds every value) and cache the device
//!    copy when local readers may want it; unpin the inputs.
//!
//! The counters in `DeviceStats` say what happened; tests assert on them.

use super::cost::{CostModel, Side};
use super::memory::DeviceMemory;
use super::{supports, Device, DeviceArray, DeviceError, DeviceInput, DeviceOutput};
use crate::graph::{DType, DeviceClass, Op, Value};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One argument of a task run on the device.
#[derive(Clone, Copy)]
pub enum TaskArg<'a> {
    /// The value in this scheduler slot (its host copy).
    Slot(u32, &'a Value),
    /// A number literal.
    Number(f64),
    /// A shape literal.
    Shape(&'a [usize]),
}

/// Counters of a rank's device activity.
#[derive(Debug, Default)]
pub struct DeviceStats {
    /// Tasks run on the device.
    pub launches: AtomicU64,
    /// Arrays copied host to device.
    pub uploads: AtomicU64,
    /// Bytes copied host to device.
    pub upload_bytes: AtomicU64,
    /// Inputs found on the device already.
    pub cache_hits: AtomicU64,
    /// Results copied device to host.
    pub downloads: AtomicU64,
    /// Tasks meant for the device that ran on the CPU (no kernel, or memory short).
    pub fallbacks: AtomicU64,
}

impl DeviceStats {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// A rank's device with its memory manager, cost model and counters.
pub struct DeviceContext {
    device: Arc<dyn Device>,
    memory: DeviceMemory,
    cost: CostModel,
    stats: DeviceStats,
    staging: Mutex<()>,
    in_flight: AtomicU32,
}

/// The first argument before `args[i]` that is the same slot, if any.
fn earlier(args: &[TaskArg<'_>], i: usize) -> Option<usize> {
    let TaskArg::Slot(s, _) = &args[i] else {
        return None;
    };
    args[..i]
        .iter()
        .position(|b| matches!(b, TaskArg::Slot(t, _) if t == s))
}

/// The dtype a task works on: that of its first array input, else the op's own.
fn task_dtype(op: &Op, args: &[TaskArg<'_>]) -> DType {
    args.iter()
        .find_map(|a| match a {
            TaskArg::Slot(_, Value::Array(x)) => Some(x.dtype()),
            _ => None,
        })
        .unwrap_or(op.own_dtype().unwrap_or(DType::F64))
}

impl DeviceContext {
    /// Wraps `device`; its capacity bounds the cache.
    pub fn new(device: Arc<dyn Device>) -> DeviceContext {
        DeviceContext {
            memory: DeviceMemory::new(device.capacity()),
            device,
            cost: CostModel::default(),
            stats: DeviceStats::default(),
            staging: Mutex::new(()),
            in_flight: AtomicU32::new(0),
        }
    }

    /// The device.
    pub fn device(&self) -> &dyn Device {
        self.device.as_ref()
    }

    /// The memory manager.
    pub fn memory(&self) -> &DeviceMemory {
        &self.memory
    }

    /// The counters.
    pub fn stats(&self) -> &DeviceStats {
        &self.stats
    }

    /// The cost model.
    pub fn cost(&self) -> &CostModel {
        &self.cost
    }

    /// Whether a task goes to the device: always when scoped to the GPU, never when scoped to
    /// the CPU, and otherwise when its op's device kernel is bit-identical to the CPU's and
    /// the cost model expects it to finish sooner there. `out_bytes` is the result's size.
    pub fn choose(
        &self,
        scope: Option<DeviceClass>,
        op: &Op,
        args: &[TaskArg<'_>],
        out_bytes: usize,
    ) -> bool {
        match scope {
            Some(DeviceClass::Gpu) => true,
            Some(DeviceClass::Cpu) => false,
            None => {
                if !super::bit_identical(op) || !supports(op, task_dtype(op, args)) {
                    return false;
                }
                let (bytes, upload) = self.footprint(args);
                let queued = self
                    .in_flight
                    .load(Ordering::Relaxed)
                    .saturating_sub(self.device.streams());
                self.cost
                    .prefer_device(op, bytes + out_bytes, upload, queued)
            }
        }
    }

    /// Input bytes of a task, and how many of them have no device copy. A slot passed
    /// twice (a stencil tile that is its own neighbour) counts once.
    fn footprint(&self, args: &[TaskArg<'_>]) -> (usize, usize) {
        let mut bytes = 0;
        let mut upload = 0;
        for (i, a) in args.iter().enumerate() {
            if let TaskArg::Slot(s, Value::Array(x)) = a {
                if earlier(args, i).is_some() {
                    continue;
                }
                let b = x.len() * x.dtype().size();
                bytes += b;
                if !self.memory.resident(*s) {
                    upload += b;
                }
            }
        }
        (bytes, upload)
    }

    /// Records a task that ran on the CPU, for the cost model.
    pub fn observe_cpu(&self, op: &Op, args: &[TaskArg<'_>], out_bytes: usize, ns: u64) {
        let (bytes, _) = self.footprint(args);
        self.cost.observe(op, Side::Cpu, bytes + out_bytes, 0, ns);
    }

    /// Counts a task meant for the device that ran on the CPU.
    pub fn count_fallback(&self) {
        DeviceStats::add(&self.stats.fallbacks, 1);
    }

    /// Runs `op` on the device (steps 1-4 of the module doc). `out` is the result's slot,
    /// `out_bytes` its size, and `keep` whether to cache the result's device copy.
    pub fn run(
        &self,
        op: &Op,
        args: &[TaskArg<'_>],
        out: u32,
        out_bytes: usize,
        keep: bool,
    ) -> Result<Value, DeviceError> {
        let dtype = task_dtype(op, args);
        if !supports(op, dtype) {
            return Err(DeviceError::Unsupported(format!(
                "{op} on {}",
                dtype.name()
            )));
        }
        let t0 = Instant::now();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let mut pinned: Vec<u32> = Vec::new();
        let result = self.run_staged(op, args, out, out_bytes, keep, &mut pinned);
        for s in pinned {
            self.memory.unpin(s);
        }
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        if let Ok((_, uploaded)) = &result {
            let (bytes, _) = self.footprint(args);
            self.cost.observe(
                op,
                Side::Device,
                bytes + out_bytes,
                *uploaded,
                t0.elapsed().as_nanos() as u64,
            );
        }
        result.map(|(v, _)| v)
    }

    /// Steps 2-4; returns the value and the bytes uploaded. Pins taken are pushed on `pinned`
    /// for the caller to return.
    fn run_staged(
        &self,
        op: &Op,
        args: &[TaskArg<'_>],
        out: u32,
        out_bytes: usize,
        keep: bool,
        pinned: &mut Vec<u32>,
    ) -> Result<(Value, usize), DeviceError> {
        let mut uploaded = 0usize;
        let mut arrays: Vec<Option<Arc<DeviceArray>>> = Vec::with_capacity(args.len());
        {
            let _staging = self.staging.lock().expect("staging lock");
            for (i, a) in args.iter().enumerate() {
                let TaskArg::Slot(s, Value::Array(host)) = a else {
                    arrays.push(None);
                    continue;
                };
                // A slot passed again (a stencil tile that is its own neighbour) is staged once.
                if let Some(k) = earlier(args, i) {
                    arrays.push(arrays[k].clone());
                    continue;
                }
                if let Some(d) = self.memory.pin(*s) {
                    DeviceStats::add(&self.stats.cache_hits, 1);
                    pinned.push(*s);
                    arrays.push(Some(d));
                    continue;
                }
                let bytes = host.len() * host.dtype().size();
                self.memory.reserve(bytes)?;
                let d = match self.device.upload(host) {
                    Ok(d) => Arc::new(d),
                    Err(e) => {
                        self.memory.unreserve(bytes);
                        return Err(e);
                    }
                };
                self.memory.insert(*s, Arc::clone(&d), true);
                pinned.push(*s);
                uploaded += bytes;
                DeviceStats::add(&self.stats.uploads, 1);
                DeviceStats::add(&self.stats.upload_bytes, bytes as u64);
                arrays.push(Some(d));
            }
            self.memory.reserve(out_bytes)?;
        }
        let inputs: Vec<DeviceInput<'_>> = args
            .iter()
            .zip(&arrays)
            .map(|(a, d)| match (a, d) {
                (_, Some(d)) => DeviceInput::Array(d),
                (TaskArg::Slot(_, v), None) => {
                    DeviceInput::Number(v.as_scalar().expect("a non-array value is a scalar"))
                }
                (TaskArg::Number(x), None) => DeviceInput::Number(*x),
                (TaskArg::Shape(s), None) => DeviceInput::Shape(s),
            })
            .collect();
        let launched = self.device.launch(op, &inputs);
        let value = match launched {
            Ok(DeviceOutput::Scalar(x)) => {
                self.memory.unreserve(out_bytes);
                Value::Scalar(x)
            }
            Ok(DeviceOutput::Array(d)) => {
                let host = match self.device.download(&d) {
                    Ok(h) => h,
                    Err(e) => {
                        self.memory.unreserve(out_bytes);
                        return Err(e);
                    }
                };
                DeviceStats::add(&self.stats.downloads, 1);
                if keep {
                    self.memory.insert(out, Arc::new(d), false);
                } else {
                    self.memory.unreserve(out_bytes);
                }
                Value::Array(host)
            }
            Err(e) => {
                self.memory.unreserve(out_bytes);
                return Err(e);
            }
        };
        DeviceStats::add(&self.stats.launches, 1);
        Ok((value, uploaded))
    }

    /// Drops the device copy of `slot` (its last local reader is done).
    pub fn forget(&self, slot: u32) {
        self.memory.forget(slot);
    }
}
