//! What a deep-halo frame (`graph::stencil::Frame`) costs the Life kernel, per computed row,
//! against a plain step: the kernel alone, on one rayon thread, no scheduler or MPI.
//!
//! `cargo bench --bench stencil_frames [H W ROUNDS]` (default 512 2048 200: the weak-scaling
//! job's tiles). Each round runs every frame once on each of four tiles, in turn, with
//! output buffers from `graph::buffers` as in a run, so the machine's drift falls on all of
//! them alike; it prints each frame's mean time per computed row and its ratio to the plain
//! step. A frame that grows or shrinks by g rows maps output row i to input row i − g, so
//! with 2048-byte rows an odd g moves the output rows by 2 KiB against the input rows they
//! read, relative to a plain step (benches/HISTORY.md, "Scaling", tenth session).

use dirk::graph::stencil::Frame;
use dirk::graph::{Array, Data, Op, Value};
use dirk::kernels::{run, Input};
use std::time::Instant;

/// A 0/1 tile of `h`×`w` cells.
fn tile(h: usize, w: usize, seed: usize) -> Value {
    let cells = (0..h * w).map(|i| ((i + seed).wrapping_mul(2_654_435_761) >> 13) as u8 & 1);
    Value::Array(Array::new(vec![h, w], Data::U8(cells.collect())))
}

fn frame(grow: [i32; 2], stale: u32) -> Frame {
    Frame {
        grow: [grow[0], grow[1], 0, 0],
        stale: [stale, stale, 0, 0],
    }
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (h, w, rounds) = (arg(1, 512), arg(2, 2048), arg(3, 200));
    let cases: Vec<(&str, Frame)> = vec![
        ("plain", Frame::PLAIN),
        ("grow 1 (odd)", frame([1, 1], 0)),
        ("grow 2", frame([2, 2], 0)),
        ("grow 3 (odd)", frame([3, 3], 0)),
        ("grow 4", frame([4, 4], 0)),
        ("keep, 2 stale", frame([0, 0], 2)),
        ("shrink 1 (odd)", frame([-1, -1], 0)),
        ("shrink 2", frame([-2, -2], 0)),
    ];
    // Strips deep enough for the deepest growth, read as the n and s sides (the row strips
    // of a periodic grid: w and e are the tile itself).
    let (n, s) = (tile(5, w, 1), tile(5, w, 2));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    // The tiles are kernel results, as in a run: their buffers come from `graph::buffers`,
    // like the outputs, so the offsets between input and output rows are those of a run.
    let plain = Op::new(dirk::kernels::LifeStep {
        normalize: false,
        frame: Frame::PLAIN,
    });
    let tiles: Vec<Value> = pool.install(|| {
        (0..4)
            .map(|t| {
                let t = tile(h, w, 10 + t);
                let args = [&t, &n, &s, &t, &t, &n, &n, &s, &s].map(Input::Value);
                run(&plain, &args).expect("a life step")
            })
            .collect()
    });
    let mut secs = vec![0.0f64; cases.len()];
    let mut rows = vec![0usize; cases.len()];
    pool.install(|| {
        for round in 0..rounds + 2 {
            for (k, (_, f)) in cases.iter().enumerate() {
                let op = Op::new(dirk::kernels::LifeStep {
                    normalize: false,
                    frame: *f,
                });
                let start = Instant::now();
                for t in &tiles {
                    let args = [t, &n, &s, t, t, &n, &n, &s, &s].map(Input::Value);
                    let out = run(&op, &args).expect("a life step");
                    let [oh, _] = f.shape([h, w]).expect("fits");
                    rows[k] = oh - (f.stale[0] + f.stale[1]) as usize;
                    drop(out);
                }
                // Two warm-up rounds.
                if round >= 2 {
                    secs[k] += start.elapsed().as_secs_f64();
                }
            }
        }
    });
    println!("# Life kernel per computed row, {h}x{w} tiles, 1 thread, {rounds} rounds");
    let per_row = |k: usize| secs[k] / (rounds * 4 * rows[k]) as f64 * 1e9;
    for (k, (name, _)) in cases.iter().enumerate() {
        println!(
            "{name:22} {:7.1} ns/row  {:+5.1} % against plain",
            per_row(k),
            (per_row(k) / per_row(0) - 1.0) * 100.0
        );
    }
}
