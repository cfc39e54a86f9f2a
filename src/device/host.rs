//! The host-backed device: the `Device` trait over host RAM and the CPU kernels.
//!
//! It exists so that everything above the trait — placement of GPU-scoped tasks, staging,
//! the device-copy cache, eviction under a memory limit, the CPU fallback — runs and is
//! tested on every machine, GPU or not. Its capacity is whatever the test asks for, so a tiny
//! limit forces eviction. It supports exactly the (op, dtype) pairs the CUDA device does (`potrf`
//! included, which the CUDA device runs only where libcusolver loads). Its stencil and
//! Cholesky tile kernels are the CPU kernels themselves, so tests through it check the
//! placement and staging of those ops, and the NVRTC and real-GPU tests check the CUDA side.

use super::{supports, Device, DeviceArray, DeviceError, DeviceInput, DeviceOutput};
use crate::graph::{Array, Op, Value};
use crate::kernels::{self, Input};

/// Device memory in host RAM; kernels are the CPU kernels.
pub struct HostDevice {
    capacity: usize,
    streams: u32,
}

impl HostDevice {
    /// A host-backed device offering `capacity` bytes on `streams` streams.
    pub fn new(capacity: usize, streams: u32) -> HostDevice {
        HostDevice {
            capacity,
            streams: streams.max(1),
        }
    }
}

fn stored(a: &DeviceArray) -> &Value {
    a.buffer::<Value>()
        .expect("a host-backed device array holds a host Value")
}

impl Device for HostDevice {
    fn describe(&self) -> String {
        format!(
            "host-backed device ({} bytes, {} streams)",
            self.capacity, self.streams
        )
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn streams(&self) -> u32 {
        self.streams
    }

    fn upload(&self, a: &Array) -> Result<DeviceArray, DeviceError> {
        Ok(DeviceArray::new(
            a.shape().to_vec(),
            a.dtype(),
            Box::new(Value::Array(a.clone())),
        ))
    }

    fn download(&self, a: &DeviceArray) -> Result<Array, DeviceError> {
        Ok(stored(a)
            .as_array()
            .expect("a host-backed device array is an array")
            .clone())
    }

    fn launch(&self, op: &Op, args: &[DeviceInput<'_>]) -> Result<DeviceOutput, DeviceError> {
        let dtype = super::launch_dtype(op, args);
        if !supports(op, dtype) {
            return Err(DeviceError::Unsupported(format!(
                "{op} on {}",
                dtype.name()
            )));
        }
        let inputs: Vec<Input<'_>> = args
            .iter()
            .map(|a| match a {
                DeviceInput::Array(x) => Input::Value(stored(x)),
                DeviceInput::Number(x) => Input::Number(*x),
                DeviceInput::Shape(s) => Input::Shape(s),
            })
            .collect();
        match kernels::run(op, &inputs).map_err(|e| DeviceError::Kernel(e.0))? {
            Value::Scalar(x) => Ok(DeviceOutput::Scalar(x)),
            Value::Array(a) => Ok(DeviceOutput::Array(DeviceArray::new(
                a.shape().to_vec(),
                a.dtype(),
                Box::new(Value::Array(a)),
            ))),
        }
    }
}
