//! The per-(op, device) cost model that decides where a task without a device scope runs.
//!
//! An estimate is `overhead + rate · bytes` where `bytes` is the task's input plus output
//! payload; on the device, the time to upload inputs that have no device copy is added at
//! `UPLOAD_NS_PER_BYTE`. Rates start from defaults (a 2-core host streaming a few GB/s, a GPU
//! two orders faster but paying a launch-and-synchronise overhead) and follow the run's own
//! measurements: each finished task updates its (op, device) rate by an exponential moving
//! average (weight `LEARN`), so a rank learns within a few tasks which side is faster for each
//! op. The decision is greedy and local to the rank: the device wins when its estimate,
//! queueing included (tasks already on the device beyond its stream count wait one estimate
//! each), is lower than the CPU's.

use crate::graph::Op;
use rustc_hash::FxHashMap;
use std::sync::Mutex;

/// Where a task runs, for the cost model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// A worker thread.
    Cpu,
    /// The rank's device.
    Device,
}

/// Fixed cost of a task on a CPU thread, ns.
const CPU_OVERHEAD_NS: f64 = 1_000.0;
/// Default CPU rate, ns per byte touched.
const CPU_NS_PER_BYTE: f64 = 0.3;
/// Fixed cost of a device task (launch, synchronise, bookkeeping), ns.
const DEVICE_OVERHEAD_NS: f64 = 30_000.0;
/// Default device rate (kernel and result download), ns per byte touched.
const DEVICE_NS_PER_BYTE: f64 = 0.1;
/// Host-to-device copy rate, ns per byte (about 10 GB/s).
pub const UPLOAD_NS_PER_BYTE: f64 = 0.1;
/// Weight of a new measurement in the moving average.
const LEARN: f64 = 0.3;

/// Learned rates per (op name, side).
pub struct CostModel {
    rates: Mutex<FxHashMap<(&'static str, Side), f64>>,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            rates: Mutex::new(FxHashMap::default()),
        }
    }
}

fn overhead(side: Side) -> f64 {
    match side {
        Side::Cpu => CPU_OVERHEAD_NS,
        Side::Device => DEVICE_OVERHEAD_NS,
    }
}

impl CostModel {
    /// The current rate of `op` on `side`, ns per byte.
    pub fn rate(&self, op: &Op, side: Side) -> f64 {
        let rates = self.rates.lock().expect("cost lock");
        rates
            .get(&(op.name(), side))
            .copied()
            .unwrap_or(match side {
                Side::Cpu => CPU_NS_PER_BYTE,
                Side::Device => DEVICE_NS_PER_BYTE,
            })
    }

    /// Estimated ns for `op` touching `bytes` on `side`, `upload` of them not yet there.
    pub fn estimate(&self, op: &Op, side: Side, bytes: usize, upload: usize) -> f64 {
        let copy = match side {
            Side::Cpu => 0.0,
            Side::Device => upload as f64 * UPLOAD_NS_PER_BYTE,
        };
        overhead(side) + self.rate(op, side) * bytes as f64 + copy
    }

    /// True when `op` should run on the device: its estimate, with `queued` device tasks
    /// beyond the stream count each waiting one estimate, beats the CPU's.
    pub fn prefer_device(&self, op: &Op, bytes: usize, upload: usize, queued: u32) -> bool {
        let dev = self.estimate(op, Side::Device, bytes, upload);
        dev * f64::from(1 + queued) < self.estimate(op, Side::Cpu, bytes, 0)
    }

    /// Learns from a finished task: `ns` measured for `bytes` on `side`, `uploaded` of them
    /// copied to the device first.
    pub fn observe(&self, op: &Op, side: Side, bytes: usize, uploaded: usize, ns: u64) {
        if bytes == 0 {
            return;
        }
        let copy = match side {
            Side::Cpu => 0.0,
            Side::Device => uploaded as f64 * UPLOAD_NS_PER_BYTE,
        };
        let sample = ((ns as f64 - overhead(side) - copy) / bytes as f64).max(0.0);
        let old = self.rate(op, side);
        self.rates
            .lock()
            .expect("cost lock")
            .insert((op.name(), side), old + LEARN * (sample - old));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_work_prefers_the_device_and_tiny_work_the_cpu() {
        let m = CostModel::default();
        assert!(m.prefer_device(&Op::new(crate::kernels::Add), 64 << 20, 0, 0));
        assert!(!m.prefer_device(&Op::new(crate::kernels::Add), 1024, 1024, 0));
    }

    #[test]
    fn measurements_move_the_decision() {
        let m = CostModel::default();
        let bytes = 64 << 20;
        assert!(m.prefer_device(&Op::new(crate::kernels::Add), bytes, 0, 0));
        // The device turns out to be slow for `add` (say, a busy or small GPU).
        for _ in 0..20 {
            m.observe(
                &Op::new(crate::kernels::Add),
                Side::Device,
                bytes,
                0,
                10 * bytes as u64,
            );
        }
        assert!(!m.prefer_device(&Op::new(crate::kernels::Add), bytes, 0, 0));
        assert!(m.rate(&Op::new(crate::kernels::Add), Side::Device) > 9.0);
        // Other ops keep their defaults.
        assert!(m.prefer_device(&Op::new(crate::kernels::Mul), bytes, 0, 0));
    }

    #[test]
    fn a_queue_on_the_device_sends_work_to_the_cpu() {
        let m = CostModel::default();
        let bytes = 1 << 20;
        assert!(m.prefer_device(&Op::new(crate::kernels::Add), bytes, 0, 0));
        assert!(!m.prefer_device(&Op::new(crate::kernels::Add), bytes, 0, 100));
    }
}
