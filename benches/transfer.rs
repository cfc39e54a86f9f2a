//! Transfer bandwidth: a 64 MiB f64 array moved from rank 0 to rank 1 by dirk (a `fill` task
//! on rank 0 feeding a task on rank 1; time from the producer's end to the consumer's start,
//! from the run's own task records) against plain MPI send/receive of the same bytes, in the
//! same run on the same two ranks. Run: `cargo bench --bench transfer` (shared memory), or
//! `sudo benches/transfer_tcp.sh` (the two ranks on two network namespaces, over TCP).

mod common;

use dirk::graph::Scope;
use dirk::{Arg, DType, Graph, Op, Runtime, Settings};
use mpi::traits::*;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 8 << 20; // 8 Mi f64 = 64 MiB
const REPS: usize = 7;

fn plain_mpi(rt: &Runtime, fresh: bool) -> f64 {
    let world = rt.world();
    let mut buf = vec![1.5f64; N];
    let mut samples = Vec::new();
    for _ in 0..REPS {
        world.barrier();
        let t = Instant::now();
        if rt.rank() == 0 {
            world.process_at_rank(1).send(&buf[..]);
            let mut ack = 0u8;
            world.process_at_rank(1).receive_into(&mut ack);
        } else {
            if fresh {
                // A fresh, untouched buffer each time, as a runtime receiving a new value has.
                let mut b: Vec<f64> = Vec::with_capacity(N);
                world
                    .process_at_rank(0)
                    .receive_into(b.spare_capacity_mut_f64());
                std::hint::black_box(&b);
            } else {
                world.process_at_rank(0).receive_into(&mut buf[..]);
            }
            world.process_at_rank(0).send(&0u8);
        }
        samples.push(t.elapsed().as_secs_f64());
    }
    common::median(samples)
}

/// Receiving into uninitialised capacity, as dirk's transport does (bench-only helper).
trait SpareF64 {
    fn spare_capacity_mut_f64(&mut self) -> &mut [f64];
}
impl SpareF64 for Vec<f64> {
    fn spare_capacity_mut_f64(&mut self) -> &mut [f64] {
        // Zero-filling would add a full pass over memory; resize touches the pages once,
        // which is what the MPI library would do when writing into fresh pages anyway.
        self.resize(N, 0.0);
        &mut self[..]
    }
}

/// Where one dirk transfer's time goes, each in seconds after the producer's end: the send
/// posted, the receive matched (`MPI_Improbe`), the receive seen complete, the send seen
/// complete, the consumer started (the figure the bandwidth is computed from).
#[derive(Clone, Copy, Default)]
struct Phases {
    posted: f64,
    matched: f64,
    received: f64,
    sent: f64,
    consumer: f64,
}

fn dirk_transfer(rt: &Runtime) -> Phases {
    let mut g = Graph::new();
    let x = g
        .spawn_named(
            "x",
            Op::new(dirk::kernels::Fill { dtype: DType::F64 }),
            vec![Arg::Shape(vec![N]), 1.5.into()],
            Scope::Rank(0),
        )
        .unwrap();
    let y = g
        .spawn_named(
            "y",
            Op::new(dirk::kernels::Busy { iterations: 0 }),
            vec![x.into()],
            Scope::Rank(1),
        )
        .unwrap();
    let _ = g
        .spawn_named(
            "s",
            Op::new(dirk::kernels::Sum),
            vec![y.into()],
            Scope::Rank(1),
        )
        .unwrap();
    let settings = Settings {
        threads: Some(1),
        trace: true,
        checkpoint: None,
        peer_timeout: None,
        gpus: false,
        steal: true,
        calibration: None,
    };
    let mut samples = Vec::new();
    for _ in 0..REPS {
        let r = rt.run(&g, &settings).expect("run");
        if rt.rank() == 0 {
            let event = |h: dirk::Handle| {
                r.trace
                    .tasks
                    .iter()
                    .find(|e| e.key == h.index() as u32)
                    .expect("every task is traced")
            };
            let (end_x, start_y) = (event(x).end_ns, event(y).start_ns);
            let after = |t: u64| t.saturating_sub(end_x) as f64 * 1e-9;
            let key = x.index() as u32;
            let transfer = |dir: dirk::trace::Direction| {
                r.trace
                    .transfers
                    .iter()
                    .find(|e| e.key == key && e.dir == dir)
                    .expect("the transfer is traced on both sides")
            };
            let (send, recv) = (
                transfer(dirk::trace::Direction::Send),
                transfer(dirk::trace::Direction::Recv),
            );
            samples.push(Phases {
                posted: after(send.start_ns),
                matched: after(recv.start_ns),
                received: after(recv.end_ns),
                sent: after(send.end_ns),
                consumer: after(start_y),
            });
        }
    }
    if rt.rank() != 0 {
        return Phases::default();
    }
    let med = |f: fn(&Phases) -> f64| common::median(samples.iter().map(f).collect());
    Phases {
        posted: med(|p| p.posted),
        matched: med(|p| p.matched),
        received: med(|p| p.received),
        sent: med(|p| p.sent),
        consumer: med(|p| p.consumer),
    }
}

fn main() {
    if !common::is_child() {
        let launcher = std::env::var("DIRK_BENCH_MPIRUN").unwrap_or_else(|_| "mpirun".into());
        println!(
            "# transfer of 64 MiB between 2 ranks, median of {REPS}, launched by {launcher}; {}",
            common::machine()
        );
        common::launch(2, &[]);
        return;
    }
    let rt = Runtime::init().expect("MPI");
    let bytes = (N * 8) as f64;
    let warm = plain_mpi(&rt, false);
    let plain = plain_mpi(&rt, false);
    let fresh = plain_mpi(&rt, true);
    let phases = dirk_transfer(&rt);
    let d = phases.consumer;
    let _ = warm;
    if rt.rank() == 0 {
        let gbs = |s: f64| bytes / s / 1e9;
        println!(
            "plain MPI send/recv (reused buffer): {:.2} GB/s ({:.2} ms incl. 1-byte ack)",
            gbs(plain),
            plain * 1e3
        );
        println!(
            "plain MPI send/recv (fresh buffer):  {:.2} GB/s ({:.2} ms incl. 1-byte ack)",
            gbs(fresh),
            fresh * 1e3
        );
        println!(
            "dirk producer end -> consumer start: {:.2} GB/s ({:.2} ms)",
            gbs(d),
            d * 1e3
        );
        println!(
            "dirk phases after the producer's end (medians, ms): send posted {:.3}, receive \
             matched {:.3}, received {:.3}, send completed {:.3}, consumer started {:.3}",
            phases.posted * 1e3,
            phases.matched * 1e3,
            phases.received * 1e3,
            phases.sent * 1e3,
            phases.consumer * 1e3
        );
        println!(
            "dirk / plain MPI (reused buffer): {:.0} %",
            100.0 * plain / d
        );
        println!(
            "dirk / plain MPI (fresh buffer):  {:.0} %",
            100.0 * fresh / d
        );
    }
}
