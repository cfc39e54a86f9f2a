//! Per-task overhead: 100,000 tiny tasks (one-element adds) as a wide layer and as a chain,
//! built with the library API and run with `Runtime::run` (planning, plan distribution, the
//! run and the gathering of figures all included). The kernels do a few nanoseconds of work,
//! so time per task is dirk's own cost. Run: `cargo bench --bench overhead` (with
//! `DIRK_BENCH_TRACE=1` in the environment to collect trace events as `--trace` does).
//! The wide layer's tasks read one shared input and are all sinks; one of them is the output.
//! First, in this process, the dispatch alone: `kernels::run` of the built-in `add`, of the
//! Rust no-op `bench::noop` and of the C plugin's no-op `cbench::noop` on a one-element
//! array, in turn, 200,000 calls per round, median of 7 rounds (ns per call, kernel body
//! included): a figure the machine's load disturbs far less than the runs under mpirun
//! (`DIRK_BENCH_DISPATCH_ONLY=1`: only that).
//! `wide-rust`/`chain-rust` and `wide-c`/`chain-c` are the same graphs with a no-op user
//! kernel in place of the built-in `add`: `bench::noop` (registered through
//! `dirk::registry`, a copy of its one-element input) and `cbench::noop` (the same in C,
//! `benches/plugins/bench_plugin.c`, built here with cc and loaded on every rank): what
//! dispatching a registered kernel costs beside a built-in, measured in one run.

mod common;

use dirk::graph::Array;
use dirk::registry::{NoParams, Registry};
use dirk::{Arg, DType, Graph, Handle, Op, Runtime, Settings};
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TASKS: usize = 100_000;

/// Which kernel a graph's tasks run.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// The built-in `add` of the input and a number.
    Builtin,
    /// `bench::noop`, a Rust kernel registered by this program.
    Rust,
    /// `cbench::noop`, a C plugin's kernel.
    C,
}

/// One task reading `x`: the built-in `add` of `x` and `y`, or a user kernel's no-op.
fn task(g: &mut Graph, kind: Kind, x: Handle, y: f64) -> Handle {
    match kind {
        Kind::Builtin => g.spawn(Op::new(dirk::kernels::Add), [x.into(), y.into()]),
        Kind::Rust => g.spawn_kernel("bench::noop", [x.into()], NoParams {}),
        Kind::C => g.spawn_kernel("cbench::noop", [x.into()], NoParams {}),
    }
    .unwrap()
}

/// The built-ins and `bench::noop`: a copy of its input.
fn kernels() -> Registry {
    Registry::with_builtins().kernel("bench::noop", |k| {
        k.args("[a]", 1).cpu(|i, _| Ok(i.array(0)?.clone()))
    })
}

/// Builds `benches/plugins/bench_plugin.c` into the target folder; its path and SHA-256.
fn build_plugin() -> (String, String) {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::env::current_exe()
        .expect("own path")
        .with_file_name("libcbench.so");
    let ok = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-O3", "-I", &format!("{root}/include")])
        .arg(format!("{root}/benches/plugins/bench_plugin.c"))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("cc")
        .success();
    assert!(ok, "cc failed on benches/plugins/bench_plugin.c");
    let sha = dirk::registry::sha256_hex(&std::fs::read(&out).expect("plugin"));
    (out.display().to_string(), sha)
}

/// Installs the table and loads the plugin, as every rank must before planning.
fn tables(plugin: &str, sha: &str) {
    dirk::registry::install(kernels()).expect("the first kernel table");
    dirk::registry::load_plugin(std::path::Path::new(plugin), sha).expect("the bench plugin");
}

fn wide(kind: Kind) -> Graph {
    let mut g = Graph::new();
    let x = g
        .spawn(
            Op::new(dirk::kernels::Fill { dtype: DType::F64 }),
            [Arg::Shape(vec![1]), 1.0.into()],
        )
        .unwrap();
    let mut last = x;
    for i in 1..TASKS {
        last = task(&mut g, kind, x, i as f64);
    }
    // One output, as a real job names what it keeps (by default every sink would be gathered
    // on rank 0: 100,000 one-element datasets).
    g.output("last", last).unwrap();
    g
}

fn chain(kind: Kind) -> Graph {
    let mut g = Graph::new();
    let mut h = g
        .spawn(
            Op::new(dirk::kernels::Fill { dtype: DType::F64 }),
            [Arg::Shape(vec![1]), 1.0.into()],
        )
        .unwrap();
    for _ in 1..TASKS {
        h = task(&mut g, kind, h, 1.0);
    }
    g
}

fn child(threads: usize, steal: bool, plugin: &str, sha: &str) {
    tables(plugin, sha);
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
    for (name, make, kind) in [
        ("wide", wide as fn(Kind) -> Graph, Kind::Builtin),
        ("wide-rust", wide, Kind::Rust),
        ("wide-c", wide, Kind::C),
        ("chain", chain, Kind::Builtin),
        ("chain-rust", chain, Kind::Rust),
        ("chain-c", chain, Kind::C),
    ] {
        let t = Instant::now();
        let g = make(kind);
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

/// ns per `kernels::run` call of the built-in `add`, `bench::noop` and `cbench::noop`.
fn dispatch() -> (f64, f64, f64) {
    use dirk::kernels::{self, Input};
    const CALLS: usize = 200_000;
    let x = dirk::Value::Array(Array::from_f64(vec![1], vec![1.0]));
    let args = [Input::Value(&x), Input::Number(2.0)];
    let call = |name: &str| {
        let k = dirk::registry::lookup(name).expect("registered");
        k.call(&serde_json::json!({})).expect("params")
    };
    let (rust, c) = (call("bench::noop"), call("cbench::noop"));
    let time = |op: &Op| {
        let t = Instant::now();
        for _ in 0..CALLS {
            std::hint::black_box(kernels::run(std::hint::black_box(op), &args).expect("add"));
        }
        t.elapsed().as_secs_f64() * 1e9 / CALLS as f64
    };
    let add = Op::new(dirk::kernels::Add);
    let (mut builtin, mut rs, mut cs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..7 {
        builtin.push(time(&add));
        rs.push(time(&rust));
        cs.push(time(&c));
    }
    (
        common::median(builtin),
        common::median(rs),
        common::median(cs),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if common::is_child() {
        child(
            args[1].parse().expect("threads"),
            args[2] == "on",
            &args[3],
            &args[4],
        );
        return;
    }
    let (plugin, sha) = build_plugin();
    tables(&plugin, &sha);
    let (builtin, rust, c) = dispatch();
    let pct = |x: f64| (x / builtin - 1.0) * 100.0;
    println!(
        "# dispatch (kernels::run on a one-element array, median of 7 x 200,000 calls): built-in add {builtin:.1} ns/call, Rust bench::noop {rust:.1} ns/call ({:+.1} %), C cbench::noop {c:.1} ns/call ({:+.1} %)",
        pct(rust),
        pct(c)
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
        common::launch(ranks, &[&threads.to_string(), steal, &plugin, &sha]);
    }
}
