//! The hand-written yardstick for dirk's `life` workload: plain MPI + rayon Game of Life,
//! no task graph. Rows are split in contiguous blocks over the ranks; each step exchanges one
//! ghost row with each neighbour (`MPI_Sendrecv`), fills the ghost columns (periodic), and
//! computes the new rows in parallel with rayon. The initial grid is dirk's seed grid
//! (`rand(seed, [n, n], u8)`, re-derived here), so the final population can be compared.
//!
//! Run under mpirun: `mpirun -n 2 target/release/deps/life_baseline-* N STEPS [SEED]`
//! (defaults 2048 20 1; `cargo bench --bench life_baseline` runs the default on 1 rank).
//! Prints the time per step and the final population on rank 0.

use mpi::point_to_point::send_receive_into;
use mpi::traits::*;
use rayon::prelude::*;
use std::time::Instant;

/// dirk's `rand` for u8: the top bit of a SplitMix64 hash of (seed, index).
fn cell(seed: u64, i: u64) -> u8 {
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    (mix(mix(seed ^ 0x6a09_e667_f3bc_c908).wrapping_add(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        >> 63) as u8
}

/// One row of B3/S23 from the padded rows above, at and below (each w + 2 long). Written as
/// nine equal-length slices so the loop has no bounds checks and vectorises.
#[inline]
fn step_row(a: &[u8], b: &[u8], c: &[u8], out: &mut [u8]) {
    let n = out.len();
    let (a0, a1, a2) = (&a[..n], &a[1..n + 1], &a[2..n + 2]);
    let (b0, b1, b2) = (&b[..n], &b[1..n + 1], &b[2..n + 2]);
    let (c0, c1, c2) = (&c[..n], &c[1..n + 1], &c[2..n + 2]);
    for j in 0..n {
        let s = a0[j] + a1[j] + a2[j] + b0[j] + b2[j] + c0[j] + c1[j] + c2[j];
        out[j] = (s == 3) as u8 | ((s == 2) as u8 & b1[j]);
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(2048);
    let steps = args.get(1).copied().unwrap_or(20);
    let seed = args.get(2).copied().unwrap_or(1) as u64;
    let universe = mpi::initialize().expect("MPI initialises once");
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let (r0, r1) = (rank * n / size, (rank + 1) * n / size);
    let h = r1 - r0;
    let pw = n + 2;
    // h + 2 padded rows of n + 2 cells: ghost rows 0 and h + 1, ghost columns 0 and n + 1.
    let mut cur = vec![0u8; (h + 2) * pw];
    let mut next = vec![0u8; (h + 2) * pw];
    for i in 0..h {
        for j in 0..n {
            cur[(i + 1) * pw + j + 1] = cell(seed, ((r0 + i) * n + j) as u64);
        }
    }
    let up = world.process_at_rank(((rank + size - 1) % size) as i32);
    let down = world.process_at_rank(((rank + 1) % size) as i32);
    world.barrier();
    let t0 = Instant::now();
    for _ in 0..steps {
        // Ghost columns (periodic), then ghost rows from the neighbours (periodic).
        for row in cur.chunks_mut(pw).skip(1).take(h) {
            row[0] = row[n];
            row[n + 1] = row[1];
        }
        let (top, rest) = cur.split_at_mut(pw);
        let (body, bottom) = rest.split_at_mut(h * pw);
        if size == 1 {
            top.copy_from_slice(&body[(h - 1) * pw..]);
            bottom.copy_from_slice(&body[..pw]);
        } else {
            send_receive_into(&body[..pw], &up, bottom, &down);
            send_receive_into(&body[(h - 1) * pw..], &down, top, &up);
        }
        let src = &cur;
        next[pw..(h + 1) * pw]
            .par_chunks_mut(pw)
            .enumerate()
            .for_each(|(i, row)| {
                let rows = &src[i * pw..(i + 3) * pw];
                let (a, rest) = rows.split_at(pw);
                let (b, c) = rest.split_at(pw);
                step_row(a, b, c, &mut row[1..n + 1]);
            });
        std::mem::swap(&mut cur, &mut next);
    }
    world.barrier();
    let per_step = t0.elapsed().as_secs_f64() / steps.max(1) as f64;
    let mut pop: u64 = 0;
    for row in cur.chunks(pw).skip(1).take(h) {
        pop += row[1..n + 1].iter().map(|&x| u64::from(x)).sum::<u64>();
    }
    let mut total = 0u64;
    world.all_reduce_into(&pop, &mut total, mpi::collective::SystemOperation::sum());
    if rank == 0 {
        println!(
            "life_baseline: {size} ranks, {} threads/rank, {n}x{n}, {steps} steps: {:.3} ms/step, population {total}",
            rayon::current_num_threads(),
            per_step * 1e3
        );
    }
}
