//! The CUDA device's primitives for the kernel table (`GpuOps`): what each built-in's GPU
//! function calls, each one dtype dispatch over the generic launches of `cuda.rs` and
//! `tiles.rs`.

use super::{Buf, CudaDevice};
use crate::device::gpu_ops::{GpuOps, Launched};
use crate::device::{DeviceArray, DeviceError, DeviceInput, DeviceOutput};
use crate::graph::stencil::Frame;
use crate::graph::DType;

fn made(shape: Vec<usize>, dtype: DType, b: Buf) -> Launched {
    Ok(DeviceOutput::Array(DeviceArray::new(
        shape,
        dtype,
        Box::new(b),
    )))
}

impl GpuOps for CudaDevice {
    fn rand_array(&self, seed: u64, dtype: DType, shape: &[usize]) -> Launched {
        let n = shape.iter().product();
        let k = format!("rand_{}", dtype.name());
        let b = match dtype {
            DType::F64 => self.generate::<f64, _>(k, n, &seed)?,
            DType::F32 => self.generate::<f32, _>(k, n, &seed)?,
            DType::I64 => self.generate::<i64, _>(k, n, &seed)?,
            DType::U8 => self.generate::<u8, _>(k, n, &seed)?,
        };
        made(shape.to_vec(), dtype, b)
    }

    fn fill_array(&self, dtype: DType, shape: &[usize], x: f64) -> Launched {
        let n = shape.iter().product();
        let k = format!("fill_{}", dtype.name());
        // The value converts on the host exactly as the CPU kernel converts it.
        let b = match dtype {
            DType::F64 => self.generate::<f64, _>(k, n, &x)?,
            DType::F32 => self.generate::<f32, _>(k, n, &(x as f32))?,
            DType::I64 => self.generate::<i64, _>(k, n, &(x as i64))?,
            DType::U8 => self.generate::<u8, _>(k, n, &(x as u8))?,
        };
        made(shape.to_vec(), dtype, b)
    }

    fn elementwise(
        &self,
        name: &str,
        dtype: DType,
        a: &DeviceInput<'_>,
        b: &DeviceInput<'_>,
    ) -> Launched {
        match dtype {
            DType::F64 => self.binary::<f64>(name, a, b),
            DType::F32 => self.binary::<f32>(name, a, b),
            DType::I64 => self.binary::<i64>(name, a, b),
            DType::U8 => self.binary::<u8>(name, a, b),
        }
    }

    fn reduce_sum(&self, dtype: DType, x: &DeviceArray) -> Launched {
        match dtype {
            DType::F64 => self.sum::<f64>(x),
            DType::F32 => self.sum::<f32>(x),
            DType::I64 => self.sum::<i64>(x),
            DType::U8 => self.sum::<u8>(x),
        }
    }

    fn product(&self, dtype: DType, a: &DeviceArray, b: &DeviceArray) -> Launched {
        match dtype {
            DType::F64 => self.matmul::<f64>(a, b),
            DType::F32 => self.matmul::<f32>(a, b),
            _ => Err(DeviceError::Unsupported(format!(
                "matmul on {}",
                dtype.name()
            ))),
        }
    }

    fn life_step(&self, args: &[DeviceInput<'_>], frame: Frame) -> Launched {
        // A number side is a constant strip: alive when nonzero, as on the CPU.
        let halo = frame.halo();
        let (p, tile) = self.pad::<u8>(args, halo, |x| (x != 0.0) as u8)?;
        let (buf, out) = self.life(&p, tile, halo, &frame)?;
        made(out.to_vec(), DType::U8, buf)
    }

    fn heat_step(
        &self,
        args: &[DeviceInput<'_>],
        alpha: f64,
        global: &[usize],
        offset: &[usize],
    ) -> Launched {
        let (p, [h, w]) = self.pad::<f64>(args, [1, 1], |x| x)?;
        let b = self.heat(&p, [h, w], alpha, global, offset)?;
        made(vec![h, w], DType::F64, b)
    }

    fn conv2d_step(
        &self,
        args: &[DeviceInput<'_>],
        kshape: [usize; 2],
        kernel: &[f64],
    ) -> Launched {
        let halo = [kshape[0] / 2, kshape[1] / 2];
        let (p, [h, w]) = self.pad::<f64>(args, halo, |x| x)?;
        let b = self.conv2d(&p, [h, w], kshape, kernel)?;
        made(vec![h, w], DType::F64, b)
    }

    fn potrf_tile(&self, a: &DeviceArray) -> Launched {
        self.potrf(a)
    }

    fn trsm_tile(&self, l: &DeviceArray, b: &DeviceArray) -> Launched {
        self.trsm(l, b)
    }

    fn syrk_tile(&self, c: &DeviceArray, a: &DeviceArray) -> Launched {
        self.syrk(c, a)
    }

    fn gemm_nt_tile(&self, c: &DeviceArray, a: &DeviceArray, b: &DeviceArray) -> Launched {
        self.gemm_nt(c, a, b)
    }
}
