//! `life_step`: one Conway B3/S23 step of a u8 tile from its neighbours' strips: one cell
//! deep for the tile's next state, deeper for a frame of ghost cells around it (deep halos,
//! `graph::stencil::Frame`).
//!
//! Rows are computed in fixed chunks in parallel, straight from the tile and the strips (no
//! padded copy): the interior columns of a row in one vectorisable loop, its two edge columns
//! apart. Cells are 0 or 1; with `normalize`, the inputs are first copied with every nonzero
//! byte read as 1 (initial data loaded from a file). Every cell depends only on its
//! neighbourhood, so any chunking gives the same bits.

use super::halo::{Halo, RowParts};
use super::Input;
use crate::device::{DeviceInput, GpuOps, Launched};
use crate::graph::stencil::Frame;
use crate::graph::{buffers, Array, Data, Value};
use crate::graph::{stencil, ArgType, DType, ValueType};
use crate::kernels::KernelError;
use crate::registry::{Builtin, CostArgs, Gpu};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows per parallel chunk: about 64 KiB of output.
fn chunk_rows(w: usize) -> usize {
    (1usize << 16).div_ceil(w.max(1)).max(1)
}

#[inline]
fn rule(s: u8, alive: u8) -> u8 {
    (s == 3) as u8 | ((s == 2) as u8 & alive)
}

/// The next state of columns `c0..c0 + out.len()` of one row (−hc < c0, c0 + out.len() ≤
/// w + hc − 1) from the padded rows above (`a`), at (`b`) and below (`c`); `w` is the tile's
/// width. Columns whose neighbours all lie in the tile run in one vectorisable loop, the few
/// others (the tile's edge columns, ghost columns) one by one.
fn step_row(
    a: &RowParts<'_, u8>,
    b: &RowParts<'_, u8>,
    c: &RowParts<'_, u8>,
    c0: isize,
    w: usize,
    out: &mut [u8],
) {
    let cell = |j: isize| {
        let s = a.at(j - 1, w)
            + a.at(j, w)
            + a.at(j + 1, w)
            + b.at(j - 1, w)
            + b.at(j + 1, w)
            + c.at(j - 1, w)
            + c.at(j, w)
            + c.at(j + 1, w);
        rule(s, b.at(j, w))
    };
    // Output positions [lo, hi): columns 1..w-1 of the tile, whose neighbours are in `mid`.
    let len = out.len() as isize;
    let lo = (1 - c0).clamp(0, len);
    let hi = (w as isize - 1 - c0).clamp(lo, len);
    for x in (0..lo).chain(hi..len) {
        out[x as usize] = cell(c0 + x);
    }
    let (lo, hi) = (lo as usize, hi as usize);
    if hi == lo {
        return;
    }
    // The n cells from column j on, and their left and right neighbours.
    let (n, j) = (hi - lo, (c0 + lo as isize) as usize);
    fn around(m: &[u8], j: usize, n: usize) -> (&[u8], &[u8], &[u8]) {
        (&m[j - 1..j - 1 + n], &m[j..j + n], &m[j + 1..j + 1 + n])
    }
    let (a0, a1, a2) = around(a.mid, j, n);
    let (b0, b1, b2) = around(b.mid, j, n);
    let (d0, d1, d2) = around(c.mid, j, n);
    let o = &mut out[lo..hi];
    for j in 0..n {
        let s = a0[j] + a1[j] + a2[j] + b0[j] + b2[j] + d0[j] + d1[j] + d2[j];
        o[j] = rule(s, b1[j]);
    }
}

fn step(args: &[Input<'_>], frame: Frame) -> Value {
    let halo = Halo::new(args, frame.halo(), Array::as_u8, |x| (x != 0.0) as u8);
    let [oh, ow] = frame.shape([halo.h, halo.w]).expect("typed");
    // Output row k, column x is the tile's padded row k − grow_n, column x − grow_w; the
    // stale ring (rows above `top` or from `bottom` on, columns outside `cols`) is zero.
    let [gn, _, gw, _] = frame.grow.map(|g| g as isize);
    let [zn, zs, zw, ze] = frame.stale.map(|z| z as usize);
    let (top, bottom, cols) = (zn, oh - zs, zw..ow - ze);
    let c0 = cols.start as isize - gw;
    // Every cell is written below.
    let mut out = buffers::take::<u8>(oh * ow);
    let rows = chunk_rows(ow);
    let chunk = |(ci, part): (usize, &mut [u8])| {
        for (k, orow) in part.chunks_mut(ow).enumerate() {
            let i = ci * rows + k;
            if i < top || i >= bottom {
                orow.fill(0);
                continue;
            }
            let r = i as isize - gn;
            let (a, b, c) = (halo.parts(r - 1), halo.parts(r), halo.parts(r + 1));
            step_row(&a, &b, &c, c0, halo.w, &mut orow[cols.clone()]);
            orow[..cols.start].fill(0);
            orow[cols.end..].fill(0);
        }
    };
    if oh * ow >= super::PAR_MIN {
        out.par_chunks_mut(rows * ow).enumerate().for_each(chunk);
    } else if oh * ow > 0 {
        out.chunks_mut(rows * ow).enumerate().for_each(chunk);
    }
    Value::Array(Array::recycled(vec![oh, ow], Data::U8(out)))
}

/// A copy of a u8 array with every nonzero byte as 1.
fn binary(v: &Value) -> Value {
    let a = v.as_array().expect("typed");
    let cells = a.as_u8().expect("typed").iter().map(|&x| (x != 0) as u8);
    Value::Array(Array::new(a.shape().to_vec(), Data::U8(cells.collect())))
}

/// One step of the tile in `args[0]` with its eight neighbour strips, its result in `frame`
/// (`LifeStep`).
pub(super) fn life_step(args: &[Input<'_>], normalize: bool, frame: Frame) -> Value {
    if !normalize {
        return step(args, frame);
    }
    let owned: Vec<Option<Value>> = args
        .iter()
        .map(|a| match a {
            Input::Value(v) => Some(binary(v)),
            _ => None,
        })
        .collect();
    let args: Vec<Input<'_>> = args
        .iter()
        .zip(&owned)
        .map(|(a, o)| o.as_ref().map_or(*a, Input::Value))
        .collect();
    step(&args, frame)
}

/// `life_step`: one Game of Life step (B3/S23) of a u8 tile: args `[c, n, s, w, e, nw, ne,
/// sw, se]`, the tile and its neighbours' strips; a number stands for a strip of that
/// constant (cells outside a `dead` grid). With `Frame::PLAIN` the strips are one cell deep
/// and the result is the tile's next state; deep halos grow and shrink it (`stencil::Frame`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LifeStep {
    /// The inputs may hold bytes other than 0 and 1 (data loaded from a file): read every
    /// nonzero byte as alive. Steps after the first see only 0 and 1.
    pub normalize: bool,
    /// Where the result lies relative to the tile.
    pub frame: Frame,
}

impl Builtin for LifeStep {
    const NAME: &'static str = "life_step";
    const ARGS: &'static str = "[c, n, s, w, e, nw, ne, sw, se]";
    const ARITY: Option<usize> = Some(9);
    // Integer-exact.
    const GPU: Option<Gpu> = Gpu::exact(&[DType::U8]);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let t = stencil::infer(Self::NAME, args, DType::U8, self.frame.halo())?;
        let ValueType::Array { shape, .. } = &t else {
            unreachable!("stencil::infer types an array")
        };
        let shape = self
            .frame
            .shape([shape[0], shape[1]])
            .map_err(|e| format!("op {}: {e}", Self::NAME))?;
        Ok(ValueType::Array {
            dtype: DType::U8,
            shape: shape.to_vec(),
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(life_step(args, self.normalize, self.frame))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        1_000.0 + 1.0 * c.len()
    }

    fn launch(&self, dev: &dyn GpuOps, _: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.life_step(args, self.frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(h: usize, w: usize, cells: Vec<u8>) -> Value {
        Value::Array(Array::new(vec![h, w], Data::U8(cells)))
    }

    #[test]
    fn blinker_turns() {
        // A vertical blinker in a 3×3 tile with dead surroundings turns horizontal.
        let t = tile(3, 3, vec![0, 1, 0, 0, 1, 0, 0, 1, 0]);
        let mut args = vec![Input::Value(&t)];
        args.extend([Input::Number(0.0); 8]);
        let v = life_step(&args, false, Frame::PLAIN);
        assert_eq!(
            v.as_array().unwrap().as_u8().unwrap(),
            &[0, 0, 0, 1, 1, 1, 0, 0, 0]
        );
    }

    #[test]
    fn nonzero_bytes_are_alive_when_normalizing() {
        let t = tile(3, 3, vec![0, 7, 0, 0, 255, 0, 0, 2, 0]);
        let mut args = vec![Input::Value(&t)];
        args.extend([Input::Number(0.0); 8]);
        let v = life_step(&args, true, Frame::PLAIN);
        assert_eq!(
            v.as_array().unwrap().as_u8().unwrap(),
            &[0, 0, 0, 1, 1, 1, 0, 0, 0]
        );
    }

    /// A dead-edged `h`×`w` grid after one step, computed cell by cell.
    fn reference_step(g: &[u8], h: usize, w: usize) -> Vec<u8> {
        let at = |r: isize, c: isize| {
            let inside = (0..h as isize).contains(&r) && (0..w as isize).contains(&c);
            if inside {
                g[r as usize * w + c as usize]
            } else {
                0
            }
        };
        let mut out = vec![0; h * w];
        for r in 0..h as isize {
            for c in 0..w as isize {
                let mut n = 0;
                for (dr, dc) in (-1..=1).flat_map(|a| (-1..=1).map(move |b| (a, b))) {
                    if (dr, dc) != (0, 0) {
                        n += at(r + dr, c + dc);
                    }
                }
                let alive = at(r, c) == 1;
                out[r as usize * w + c as usize] = (n == 3 || (n == 2 && alive)) as u8;
            }
        }
        out
    }

    #[test]
    fn deep_halo_frames_match_plain_steps_of_the_whole_grid() {
        // A 5×6 tile at (6, 7) of a 17×20 grid, its eight strips m = 3 deep: step 1 grows a
        // 2-cell frame of ghost cells, step 2 keeps the frame with its outer ring stale (zero),
        // step 3 shrinks back to the tile. Each computed cell must equal the whole grid's.
        let (gh, gw, r0, c0, h, w, m) = (17, 20, 6, 7, 5, 6, 3);
        let g = m as i32 - 1;
        let grid0: Vec<u8> = (0..gh * gw).map(|i| ((i * 7919) % 11 < 4) as u8).collect();
        let mut steps = vec![grid0.clone()];
        for _ in 0..m {
            steps.push(reference_step(steps.last().unwrap(), gh, gw));
        }
        let window = |grid: &[u8], r: usize, c: usize, hh: usize, ww: usize| {
            let cells = (0..hh * ww).map(|k| grid[(r + k / ww) * gw + c + k % ww]);
            Value::Array(Array::new(vec![hh, ww], Data::U8(cells.collect())))
        };
        let tile = window(&grid0, r0, c0, h, w);
        // n, s, w, e, nw, ne, sw, se: m deep across the edge, the tile's length along it.
        let strips: Vec<Value> = crate::graph::stencil::SIDES
            .iter()
            .map(|&(di, dj)| {
                let (r, hh) = match di {
                    -1 => (r0 - m, m),
                    1 => (r0 + h, m),
                    _ => (r0, h),
                };
                let (c, ww) = match dj {
                    -1 => (c0 - m, m),
                    1 => (c0 + w, m),
                    _ => (c0, w),
                };
                window(&grid0, r, c, hh, ww)
            })
            .collect();
        let mut args = vec![Input::Value(&tile)];
        args.extend(strips.iter().map(Input::Value));
        let grown = Frame {
            grow: [g; 4],
            stale: [0; 4],
        };
        let e1 = life_step(&args, false, grown);
        let (fh, fw) = (h + 2 * m - 2, w + 2 * m - 2);
        let want1 = window(&steps[1], r0 + 1 - m, c0 + 1 - m, fh, fw);
        assert_eq!(e1, want1, "step 1: the tile and its ghost cells");
        // Step 2 reads only the frame: its sides are never read (numbers), a stale ring of 1.
        let mut ghost = vec![Input::Value(&e1)];
        ghost.extend([Input::Number(0.0); 8]);
        let middle = Frame {
            grow: [0; 4],
            stale: [1; 4],
        };
        let e2 = life_step(&ghost, false, middle);
        let want2 = window(&steps[2], r0 + 1 - m, c0 + 1 - m, fh, fw);
        let (e2c, want2c) = (e2.as_array().unwrap(), want2.as_array().unwrap());
        for r in 0..fh {
            for c in 0..fw {
                let stale = r == 0 || c == 0 || r == fh - 1 || c == fw - 1;
                let want = if stale {
                    0
                } else {
                    want2c.as_u8().unwrap()[r * fw + c]
                };
                assert_eq!(
                    e2c.as_u8().unwrap()[r * fw + c],
                    want,
                    "step 2, cell ({r}, {c})"
                );
            }
        }
        let mut last = vec![Input::Value(&e2)];
        last.extend([Input::Number(0.0); 8]);
        let shrink = Frame {
            grow: [-g; 4],
            stale: [0; 4],
        };
        let t3 = life_step(&last, false, shrink);
        assert_eq!(
            t3,
            window(&steps[3], r0, c0, h, w),
            "step 3: the tile again"
        );
        assert_ne!(steps[3], steps[0], "the grid changes: the test can fail");
    }

    #[test]
    fn a_recycled_buffer_of_stale_values_comes_out_with_its_stale_ring_zero() {
        // A middle step of a frame big enough for the buffer pool, whose output buffer held
        // 0xFF everywhere: the stale ring (2 deep) must come out zero and the rest must be
        // the step of the frame's cells (all inside it, so a dead-edged reference agrees).
        // The pool is the process's: a test running beside this one may evict the buffer
        // between `give` and the step, so it tries until the step took it.
        let (fh, fw) = (521, 523);
        assert!(fh * fw >= buffers::MIN_BYTES, "pooled size");
        let cells: Vec<u8> = (0..fh * fw).map(|i| ((i * 7919) % 13 < 5) as u8).collect();
        let want = reference_step(&cells, fh, fw);
        let input = tile(fh, fw, cells);
        let mut args = vec![Input::Value(&input)];
        args.extend([Input::Number(0.0); 8]);
        let middle = Frame {
            grow: [0; 4],
            stale: [2; 4],
        };
        let mut took_it = false;
        for _ in 0..20 {
            let mut stale = buffers::take::<u8>(fh * fw);
            stale.fill(0xFF);
            let ptr = stale.as_ptr();
            buffers::give(Data::U8(stale));
            let out = life_step(&args, false, middle);
            let out = out.as_array().unwrap().as_u8().unwrap();
            for r in 0..fh {
                for c in 0..fw {
                    let ring = r < 2 || c < 2 || r >= fh - 2 || c >= fw - 2;
                    let w = if ring { 0 } else { want[r * fw + c] };
                    assert_eq!(out[r * fw + c], w, "cell ({r}, {c})");
                }
            }
            if out.as_ptr() == ptr {
                took_it = true;
                break;
            }
        }
        assert!(took_it, "the step never took the buffer of stale values");
    }

    #[test]
    fn narrow_tiles_read_their_strips() {
        // A 1-column tile: every cell is an edge cell; neighbours come from the strips.
        let t = tile(3, 1, vec![0, 1, 0]);
        let west = tile(3, 1, vec![1, 0, 1]);
        let east = tile(3, 1, vec![0, 0, 0]);
        let mut args = vec![Input::Value(&t), Input::Number(0.0), Input::Number(0.0)];
        args.extend([Input::Value(&west), Input::Value(&east)]);
        args.extend([Input::Number(0.0); 4]);
        // By hand: the middle cell is alive with 2 live neighbours (west rows 0 and 2) and
        // survives; the top and bottom cells are dead with 2 (west[0] or west[2], and t[1]).
        let v = life_step(&args, false, Frame::PLAIN);
        assert_eq!(v.as_array().unwrap().as_u8().unwrap(), &[0, 1, 0]);
    }
}
