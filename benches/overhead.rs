//! Per-task overhead: 100,000 tiny tasks (one-element adds) as a wide layer and as a chain,
//! built with the library API and run with `Runtime::run` (planning, plan distribution, the
//! run and the gathering of figures all included). The kernels do a few nanoseconds of work,
//! so time per task is dirk's own cost. Run: `cargo bench --bench overhead` (with
//! `DIRK_BENCH_TRACE=1` in the environment to collect trace events as `--trace` does).
//! The wide layer's tasks read one shared input and are all sinks; one of them is the output.

mod common;

use dirk::{Arg, DType, Graph, Op, Runtime, Settings};
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TASKS: usize = 100_000;

fn wide() -> Graph {
    let mut g = Graph::new();
    let x = g
        .spawn(
            Op::Fill { dtype: DType::F64 },
            [Arg::Shape(vec![1]), 1.0.into()],
        )
        .unwrap();
    let mut last = x;
    for i in 1..TASKS {
        last = g.spawn(Op::Add, [x.into(), (i as f64).into()]).unwrap();
    }
    // One output, as a real job names what it keeps (by default every sink would be gathered
    // on rank 0: 100,000 one-element datasets).
    g.output("last", last).unwrap();
    g
}

fn chain() -> Graph {
    let mut g = Graph::new();
    let mut h = g
        .spawn(
            Op::Fill { dtype: DType::F64 },
            [Arg::Shape(vec![1]), 1.0.into()],
        )
        .unwrap();
    for _ in 1..TASKS {
        h = g.spawn(Op::Add, [h.into(), 1.0.into()]).unwrap();
    }
    g
}

fn child(threads: usize, steal: bool) {
    let rt = Runtime::init().expect("MPI");
    let settings = Settings {
        threads: Some(threads),
        // DIRK_BENCH_TRACE=1: collect trace events (tasks and transfers, gathered to rank 0
        // inside `run`), to measure what `--trace` costs.
        trace: std::env::var_os("DIRK_BENCH_TRACE").is_some(),
        checkpoint: None,
        peer_timeout: None,
        gpus: false,
        steal,
        calibration: None,
    };
    for (name, make) in [("wide", wide as fn() -> Graph), ("chain", chain)] {
        let t = Instant::now();
        let g = make();
        let build = t.elapsed().as_secs_f64();
        let mut total = Vec::new();
        let mut plan = Vec::new();
        for _ in 0..5 {
            rt.barrier();
            let t = Instant::now();
            let r = rt.run(&g, &settings).expect("run");
            rt.barrier();
            total.push(t.elapsed().as_secs_f64());
            if let Some(s) = r.summary {
                plan.push(s.plan_seconds);
            }
        }
        if rt.rank() == 0 {
            let us = |s: f64| s * 1e6 / TASKS as f64;
            println!(
                "overhead {name:5} ranks {} threads {threads} steal {}: {:.2} us/task (plan+distribute {:.2} us/task; graph build by the API {:.2} us/task)",
                rt.size(),
                if steal { "on " } else { "off" },
                us(common::median(total)),
                us(common::median(plan)),
                us(build),
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if common::is_child() {
        child(args[1].parse().expect("threads"), args[2] == "on");
        return;
    }
    println!(
        "# overhead, {} tasks per graph, median of 5 runs; {}",
        TASKS,
        common::machine()
    );
    // Stealing is on by default; at 2 ranks the same graphs run with it off and on,
    // alternately, to show what it costs a balanced run.
    for (ranks, threads, steal) in [
        (1, 1, "on"),
        (1, 2, "on"),
        (2, 1, "off"),
        (2, 1, "on"),
        (2, 1, "off"),
        (2, 1, "on"),
    ] {
        common::launch(ranks, &[&threads.to_string(), steal]);
    }
}
