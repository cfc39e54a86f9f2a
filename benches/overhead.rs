//! Per-task overhead: 100,000 tiny tasks (one-element adds) as a wide layer and as a chain,
//! built with the library API and run with `Runtime::run` (planning, plan distribution, the
//! run and the gathering of figures all included). The kernels do a few nanoseconds of work,
//! so time per task is dirk's own cost. Run: `cargo bench --bench overhead` (with
//! `DIRK_BENCH_TRACE=1` in the environment to collect trace events as `--trace` does).
//! The wide layer's tasks read one shared input and are all sinks; one of them is the output.
//! First, in this process, the dispatch alone: `kernels::run` of the built-in `add` and of
//! `bench::add` on a one-element array, alternately, 200,000 calls per round, median of 7
//! rounds (ns per call, kernel body included): a figure the machine's load disturbs far less
//! than the runs under mpirun (`DIRK_BENCH_DISPATCH_ONLY=1`: only that).
//! `wide-app` and `chain-app` are the same graphs with an application kernel (`bench::add`,
//! registered through `dirk::registry`, the same one-element add) in place of the built-in
//! `add`: what dispatching a registered kernel costs beside a built-in.

mod common;

use dirk::graph::Array;
use dirk::registry::{NoParams, Registry};
use dirk::{Arg, DType, Graph, Handle, Op, Runtime, Settings};
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TASKS: usize = 100_000;

/// One add task of `x` and a number: the built-in `add`, or the application's `bench::add`.
fn add(g: &mut Graph, app: bool, x: Handle, y: f64) -> Handle {
    if app {
        g.spawn_kernel("bench::add", [x.into(), y.into()], NoParams {})
    } else {
        g.spawn(Op::new(dirk::kernels::Add), [x.into(), y.into()])
    }
    .unwrap()
}

/// The built-ins and `bench::add`: an f64 array plus a number, like the built-in `add`.
fn kernels() -> Registry {
    Registry::with_builtins().kernel("bench::add", |k| {
        k.args("[a, x]", 2).cpu(|i, _| {
            let (a, x) = (i.array(0)?, i.scalar(1)?);
            let v = a
                .as_f64()
                .ok_or("f64 only")?
                .iter()
                .map(|v| v + x)
                .collect();
            Ok(Array::from_f64(a.shape().to_vec(), v))
        })
    })
}

fn wide(app: bool) -> Graph {
    let mut g = Graph::new();
    let x = g
        .spawn(
            Op::new(dirk::kernels::Fill { dtype: DType::F64 }),
            [Arg::Shape(vec![1]), 1.0.into()],
        )
        .unwrap();
    let mut last = x;
    for i in 1..TASKS {
        last = add(&mut g, app, x, i as f64);
    }
    // One output, as a real job names what it keeps (by default every sink would be gathered
    // on rank 0: 100,000 one-element datasets).
    g.output("last", last).unwrap();
    g
}

fn chain(app: bool) -> Graph {
    let mut g = Graph::new();
    let mut h = g
        .spawn(
            Op::new(dirk::kernels::Fill { dtype: DType::F64 }),
            [Arg::Shape(vec![1]), 1.0.into()],
        )
        .unwrap();
    for _ in 1..TASKS {
        h = add(&mut g, app, h, 1.0);
    }
    g
}

fn child(threads: usize, steal: bool) {
    dirk::registry::install(kernels()).expect("the first kernel table");
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
    for (name, make, app) in [
        ("wide", wide as fn(bool) -> Graph, false),
        ("wide-app", wide, true),
        ("chain", chain, false),
        ("chain-app", chain, true),
    ] {
        let t = Instant::now();
        let g = make(app);
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
                "overhead {name:9} ranks {} threads {threads} steal {}: {:.2} us/task (plan+distribute {:.2} us/task; graph build by the API {:.2} us/task)",
                rt.size(),
                if steal { "on " } else { "off" },
                us(common::median(total)),
                us(common::median(plan)),
                us(build),
            );
        }
    }
}

/// ns per `kernels::run` call of the built-in `add` and of the app's `bench::add`.
fn dispatch() -> (f64, f64) {
    use dirk::kernels::{self, Input};
    const CALLS: usize = 200_000;
    let x = dirk::Value::Array(Array::from_f64(vec![1], vec![1.0]));
    let args = [Input::Value(&x), Input::Number(2.0)];
    let table = dirk::registry::global();
    let app = table
        .get("bench::add")
        .expect("registered")
        .call(&serde_json::json!({}))
        .expect("params");
    let time = |op: &Op| {
        let t = Instant::now();
        for _ in 0..CALLS {
            std::hint::black_box(kernels::run(std::hint::black_box(op), &args).expect("add"));
        }
        t.elapsed().as_secs_f64() * 1e9 / CALLS as f64
    };
    let (mut builtin, mut registered) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        builtin.push(time(&Op::new(dirk::kernels::Add)));
        registered.push(time(&app));
    }
    (common::median(builtin), common::median(registered))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if common::is_child() {
        child(args[1].parse().expect("threads"), args[2] == "on");
        return;
    }
    dirk::registry::install(kernels()).expect("the first kernel table");
    let (builtin, registered) = dispatch();
    println!(
        "# dispatch (kernels::run, one-element add, median of 7 x 200,000 calls): built-in add {builtin:.1} ns/call, app bench::add {registered:.1} ns/call ({:+.1} %)",
        (registered / builtin - 1.0) * 100.0
    );
    if std::env::var_os("DIRK_BENCH_DISPATCH_ONLY").is_some() {
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
