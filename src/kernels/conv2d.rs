//! `conv2d`: 2-D correlation of an f64 tile with a small kernel, reading kh/2 rows and kw/2
//! columns of halo from the neighbours' strips (constants stand for outside the image).
//!
//! out[i, j] = Σ_a Σ_b k[a, b] · in[i + a − kh/2, j + b − kw/2], summed from 0.0 with `a`
//! outer and `b` inner. Each output row is independent, so any chunking gives the same bits.

use super::halo::Halo;
use super::Input;
use crate::device::{DeviceInput, GpuOps, Launched};
use crate::graph::{buffers, Array, Data, Value};
use crate::graph::{stencil, ArgType, DType, ValueType};
use crate::kernels::{KernelError, F64};
use crate::registry::{Builtin, CostArgs, Gpu};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The correlation of the tile in `args[0]` (with its eight strips) with `kernel`.
pub(super) fn conv2d(args: &[Input<'_>], kshape: [usize; 2], kernel: &[f64]) -> Value {
    let [kh, kw] = kshape;
    let halo = Halo::new(args, [kh / 2, kw / 2], Array::as_f64, |x| x);
    let (h, w) = (halo.h, halo.w);
    let pw = halo.padded_width();
    let ph = h + 2 * (kh / 2);
    // Every row of `padded` and every cell of `out` is written below.
    let mut padded = buffers::take::<f64>(ph * pw);
    for (r, row) in padded.chunks_mut(pw.max(1)).enumerate() {
        halo.row(r as isize - (kh / 2) as isize, row);
    }
    let mut out = buffers::take::<f64>(h * w);
    let one_row = |(i, orow): (usize, &mut [f64])| {
        for (j, o) in orow.iter_mut().enumerate() {
            let mut s = 0.0;
            for a in 0..kh {
                let prow = &padded[(i + a) * pw + j..(i + a) * pw + j + kw];
                for b in 0..kw {
                    s += kernel[a * kw + b] * prow[b];
                }
            }
            *o = s;
        }
    };
    if w > 0 {
        if h * w * kh * kw >= super::PAR_MIN {
            out.par_chunks_mut(w).enumerate().for_each(one_row);
        } else {
            out.chunks_mut(w).enumerate().for_each(one_row);
        }
    }
    buffers::give(Data::F64(padded));
    Value::Array(Array::recycled(vec![h, w], Data::F64(out)))
}

/// `conv2d`: 2-D correlation of an f64 tile with `kernel`: args `[c, n, s, w, e, nw, ne, sw,
/// se]`, strips kh/2 rows and kw/2 columns wide (numbers: constant outside the image).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv2d {
    /// Kernel rows and columns (both odd).
    pub kshape: [usize; 2],
    /// Kernel values, row-major.
    pub kernel: Vec<f64>,
}

impl Builtin for Conv2d {
    const NAME: &'static str = "conv2d";
    const ARGS: &'static str = "[c, n, s, w, e, nw, ne, sw, se]";
    const ARITY: Option<usize> = Some(9);
    const GPU: Option<Gpu> = Gpu::exact(F64);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let [kh, kw] = self.kshape;
        if kh % 2 == 0 || kw % 2 == 0 || self.kernel.len() != kh * kw {
            return Err(format!(
                "op {}: the kernel must have odd sides and {} values",
                Self::NAME,
                kh * kw
            ));
        }
        stencil::infer(Self::NAME, args, DType::F64, [kh / 2, kw / 2])
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(conv2d(args, self.kshape, &self.kernel))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        1_000.0 + c.len() * (self.kshape[0] * self.kshape[1]) as f64
    }

    fn launch(&self, dev: &dyn GpuOps, _: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.conv2d_step(args, self.kshape, &self.kernel)
    }
}
