//! `heat_step`: one explicit finite-difference step of the heat equation on an f64 tile.
//!
//! Interior cells get `u + alpha * (n + s + e + w - 4.0 * u)` (evaluated left to right);
//! cells on the outer ring of the global grid keep their value. Rows are read in place from
//! the tile and the strips. Each cell depends only on its neighbourhood, so any chunking
//! gives the same bits.

use super::halo::Halo;
use super::Input;
use crate::device::{DeviceInput, GpuOps, Launched};
use crate::graph::op_tiled::window_fits;
use crate::graph::{buffers, Array, Data, Value};
use crate::graph::{stencil, ArgType, DType, ValueType};
use crate::kernels::{KernelError, F64};
use crate::registry::{Builtin, CostArgs, Gpu};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One step of the tile in `args[0]` (at `offset` of a `global` grid) with its four strips.
pub(super) fn heat_step(
    args: &[Input<'_>],
    alpha: f64,
    global: &[usize],
    offset: &[usize],
) -> Value {
    let halo = Halo::new(args, [1, 1], Array::as_f64, |x| x);
    let (h, w) = (halo.h, halo.w);
    let (gh, gw) = (global[0], global[1]);
    // Every cell is written below.
    let mut out = buffers::take::<f64>(h * w);
    let rows = (1usize << 13).div_ceil(w.max(1)).max(1);
    let chunk = |(ci, part): (usize, &mut [f64])| {
        let r0 = ci * rows;
        for (k, orow) in part.chunks_mut(w).enumerate() {
            let r = (r0 + k) as isize;
            let (a, b, c) = (halo.parts(r - 1), halo.parts(r), halo.parts(r + 1));
            let gr = offset[0] + r0 + k;
            if gr == 0 || gr + 1 == gh {
                orow.copy_from_slice(b.mid);
                continue;
            }
            let cell = |j: usize| {
                let (ji, u) = (j as isize, b.mid[j]);
                let gc = offset[1] + j;
                if gc == 0 || gc + 1 == gw {
                    u
                } else {
                    let (n, s) = (a.mid[j], c.mid[j]);
                    let (e, we) = (b.at(ji + 1, w), b.at(ji - 1, w));
                    u + alpha * (n + s + e + we - 4.0 * u)
                }
            };
            orow[0] = cell(0);
            if w > 1 {
                orow[w - 1] = cell(w - 1);
            }
            let inner = w.saturating_sub(1);
            for (j, o) in orow.iter_mut().enumerate().take(inner).skip(1) {
                let gc = offset[1] + j;
                let u = b.mid[j];
                *o = if gc + 1 == gw {
                    u
                } else {
                    u + alpha * (a.mid[j] + c.mid[j] + b.mid[j + 1] + b.mid[j - 1] - 4.0 * u)
                };
            }
        }
    };
    if w > 0 && h > 0 {
        if h * w >= super::PAR_MIN {
            out.par_chunks_mut(rows * w).enumerate().for_each(chunk);
        } else {
            out.chunks_mut(rows * w).enumerate().for_each(chunk);
        }
    }
    Value::Array(Array::recycled(vec![h, w], Data::F64(out)))
}

/// `heat_step`: one explicit heat step of an f64 tile: args `[c, n, s, w, e]` (one-cell strips
/// or numbers). Interior cells get u + alpha·(N+S+E+W−4u); cells on the outer ring of the
/// global grid keep their value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeatStep {
    /// Diffusion coefficient.
    pub alpha: f64,
    /// Shape of the whole grid.
    pub global: Vec<usize>,
    /// Where the tile starts in it.
    pub offset: Vec<usize>,
}

impl Builtin for HeatStep {
    const NAME: &'static str = "heat_step";
    const ARGS: &'static str = "[c, n, s, w, e]";
    const ARITY: Option<usize> = Some(5);
    // The CPU's order of float operations, FMA contraction forbidden.
    const GPU: Option<Gpu> = Gpu::exact(F64);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let t = stencil::infer(Self::NAME, args, DType::F64, [1, 1])?;
        if let ValueType::Array { shape, .. } = &t {
            window_fits(Self::NAME, shape, &self.offset, &self.global)?;
        }
        Ok(t)
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(heat_step(args, self.alpha, &self.global, &self.offset))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        1_000.0 + 1.5 * c.len()
    }

    fn launch(&self, dev: &dyn GpuOps, _: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.heat_step(args, self.alpha, &self.global, &self.offset)
    }
}
