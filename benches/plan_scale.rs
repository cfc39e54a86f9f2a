//! Planning scale: a 1,000,000-task graph (1000 independent chains of 1000 tiny tasks) planned
//! on rank 0 and distributed, at 1, 2 and 4 ranks; reports plan + distribution time and each
//! rank's peak memory, which should follow the rank's share, not the whole graph (rank 0 also
//! holds the graph it built). Run: `cargo bench --bench plan_scale`.

mod common;

use dirk::{Arg, DType, Graph, Op, Runtime, Settings};
use mpi::traits::*;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHAINS: usize = 1000;
const LEN: usize = 1000;

fn main() {
    if !common::is_child() {
        println!(
            "# plan scale: {} tasks; {}",
            CHAINS * LEN,
            common::machine()
        );
        for ranks in [1, 2, 4] {
            common::launch(ranks, &[]);
        }
        return;
    }
    let rt = Runtime::init().expect("MPI");
    let mut g = Graph::new();
    if rt.rank() == 0 {
        for _ in 0..CHAINS {
            let mut h = g
                .spawn(
                    Op::new(dirk::kernels::Fill { dtype: DType::F64 }),
                    [Arg::Shape(vec![1]), 1.0.into()],
                )
                .unwrap();
            for _ in 1..LEN {
                h = g
                    .spawn(Op::new(dirk::kernels::Add), [h.into(), 1.0.into()])
                    .unwrap();
            }
        }
    }
    let rss_graph = common::peak_rss_mib();
    let t = Instant::now();
    let r = rt
        .run(
            &g,
            &Settings {
                threads: Some(1),
                trace: false,
                checkpoint: None,
                peer_timeout: None,
                gpus: false,
                steal: true,
                calibration: None,
            },
        )
        .expect("run");
    let total = t.elapsed().as_secs_f64();
    let rss = common::peak_rss_mib();
    let mut all = vec![0f64; 2 * rt.size() as usize];
    let root = rt.world().process_at_rank(0);
    if rt.rank() == 0 {
        root.gather_into_root(&[rss_graph, rss][..], &mut all[..]);
        let s = r.summary.unwrap();
        println!(
            "ranks {}: plan + distribute {:.3} s, whole run {:.3} s ({:.2} us/task)",
            rt.size(),
            s.plan_seconds,
            total,
            total * 1e6 / (CHAINS * LEN) as f64
        );
        for (i, c) in all.chunks(2).enumerate() {
            println!(
                "  rank {i}: peak RSS {:.0} MiB (before the run: {:.0} MiB)",
                c[1], c[0]
            );
        }
    } else {
        root.gather_into(&[rss_graph, rss][..]);
    }
}
