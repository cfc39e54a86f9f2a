//! Measures the links between ranks once, before a stealing run, for the cost model.
//!
//! Stealing moves a task only when its transfer is well below its wait (`sched::steal`), so
//! the model needs each peer's one-way latency and bandwidth. Timing the steal messages
//! themselves does not give them: a request or a result waits at its receiver until a
//! worker or the progress thread looks, which while every worker runs a long task is up to
//! a task's length. (Learned that way, a chain of 13 ms tasks measured a 1.5 ms "latency"
//! and refused every later request.) So every rank times a few exchanges with its peers
//! while all of them attend to nothing else:
//!
//! - in round `r` each rank sends to `rank + r` and receives from `rank - r` (mod ranks), all
//!   at once, so no pair waits for another; a round repeats the exchange and keeps the
//!   fastest, which is one one-way trip once the ranks are in step;
//! - small messages give the latency, 256 KiB ones the time per byte;
//! - at most [`ROUNDS`] rounds, so at most 2 × `ROUNDS` peers are measured (the nearest
//!   ranks, on the same node first under the usual block mapping); farther peers get the
//!   slowest link measured. Each round costs tens of microseconds.

use crate::plan::learn::CostModel;
use mpi::point_to_point::send_receive_into;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::time::Instant;

/// Rounds of exchanges at most (peers at distance 1..=ROUNDS in both directions).
const ROUNDS: i32 = 16;
/// Exchanges per message size in a round; the fastest counts.
const REPEATS: usize = 5;
/// The small and the large message, bytes.
const SMALL: usize = 8;
const LARGE: usize = 256 << 10;

/// Times exchanges with this rank's peers and feeds them to `model`. Collective: every rank
/// of `world` calls it at the same point.
pub(super) fn measure(world: &SimpleCommunicator, model: &CostModel) {
    let n = world.size();
    let me = world.rank();
    if n < 2 {
        return;
    }
    let start = Instant::now();
    let rounds = (n - 1).min(ROUNDS);
    let small_out = vec![0u8; SMALL];
    let large_out = vec![0u8; LARGE];
    let mut small_in = vec![0u8; SMALL];
    let mut large_in = vec![0u8; LARGE];
    let mut measured = vec![false; n as usize];
    let mut slowest: Option<(f64, f64)> = None;
    for r in 1..=rounds {
        let to = world.process_at_rank((me + r) % n);
        let from = world.process_at_rank((me + n - r) % n);
        let fastest = |out: &[u8], inp: &mut [u8]| {
            (0..REPEATS)
                .map(|_| {
                    let t = Instant::now();
                    send_receive_into(out, &to, inp, &from);
                    t.elapsed().as_nanos() as f64
                })
                .fold(f64::INFINITY, f64::min)
        };
        let small = fastest(&small_out, &mut small_in);
        let large = fastest(&large_out, &mut large_in);
        for peer in [(me + r) % n, (me + n - r) % n] {
            model.observe_link(peer as u32, SMALL, small as u64);
            model.observe_link(peer as u32, LARGE, large as u64);
            measured[peer as usize] = true;
        }
        if slowest.is_none_or(|(s, _)| small > s) {
            slowest = Some((small, large));
        }
    }
    if let Some((small, large)) = slowest {
        for peer in (0..n as usize).filter(|&p| p != me as usize && !measured[p]) {
            model.observe_link(peer as u32, SMALL, small as u64);
            model.observe_link(peer as u32, LARGE, large as u64);
        }
    }
    let next = ((me + 1) % n) as u32;
    tracing::debug!(
        "links measured in {:.2} ms; to rank {next}: {:.1} µs latency, {:.3} ns/byte",
        start.elapsed().as_secs_f64() * 1e3,
        model.transfer_ns(next, 0) * 1e-3,
        (model.transfer_ns(next, 1 << 20) - model.transfer_ns(next, 0)) / (1 << 20) as f64
    );
}
