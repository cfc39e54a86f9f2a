//! A Rust application with its own kernels: `heat_app::heat5` (one explicit heat step of a
//! whole 2-D grid, the outer ring kept) and `heat_app::axpy` (a·x + y), registered beside the
//! built-ins. It checks itself: the result against a sequential computation of its own.
//!
//! ```text
//! cargo build --release --example heat_app
//! mpirun -n 3 target/release/examples/heat_app selfcheck      # library API, checks itself
//! mpirun -n 2 target/release/examples/heat_app run examples/heat_app.json --output out.h5
//! target/release/examples/heat_app info                        # lists the kernel table
//! ```
//!
//! Any other arguments are dirk's command line (`dirk::main_with`): the job file names the
//! kernels as `heat_app::heat5` and `heat_app::axpy`.

use dirk::graph::GraphError;
use dirk::registry::Registry;
use dirk::{Arg, DType, Graph, Handle, Op, Runtime, Settings, Value};
use ndarray::{Array2, ArrayD, ArrayView2, Zip};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Heat {
    alpha: f64,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Axpy {
    a: f64,
}

/// The built-ins and this application's two kernels.
fn kernels() -> Registry {
    Registry::with_builtins()
        .kernel("heat_app::heat5", |k| {
            k.params::<Heat>()
                .args("[u]", 1)
                .dtypes(&[DType::F64])
                .shape(|args, _| match args {
                    [dirk::graph::ArgType::Value(
                        t @ dirk::graph::ValueType::Array { shape, .. },
                    )] if shape.len() == 2 => Ok((*t).clone()),
                    _ => Err("heat_app::heat5 takes a 2-D grid".into()),
                })
                .cpu(|inputs, p| {
                    let u = inputs.view::<f64>(0)?.into_dimensionality()?;
                    Ok(heat5(u, p.alpha).into_dyn())
                })
                .cost(|out, _| 1_000.0 + 2.0 * out.len() as f64)
        })
        .kernel("heat_app::axpy", |k| {
            k.params::<Axpy>()
                .args("[x, y]", 2)
                .dtypes(&[DType::F64])
                .shape(|args, _| match args {
                    [dirk::graph::ArgType::Value(x), dirk::graph::ArgType::Value(y)] if x == y => {
                        Ok((*x).clone())
                    }
                    _ => Err("heat_app::axpy takes two arrays of one shape".into()),
                })
                .cpu(|inputs, p| {
                    let (x, y) = (inputs.view::<f64>(0)?, inputs.view::<f64>(1)?);
                    let mut out = ArrayD::<f64>::zeros(x.raw_dim());
                    Zip::from(&mut out)
                        .and(&x)
                        .and(&y)
                        .for_each(|o, &x, &y| *o = p.a * x + y);
                    Ok(out)
                })
        })
}

/// One heat step: interior u + alpha·(N+S+E+W−4u), left to right, the outer ring unchanged.
fn heat5(u: ArrayView2<'_, f64>, alpha: f64) -> Array2<f64> {
    let (h, w) = u.dim();
    let mut out = u.to_owned();
    for i in 1..h.saturating_sub(1) {
        for j in 1..w.saturating_sub(1) {
            let c = u[[i, j]];
            let lap = u[[i - 1, j]] + u[[i + 1, j]] + u[[i, j + 1]] + u[[i, j - 1]] - 4.0 * c;
            out[[i, j]] = c + alpha * lap;
        }
    }
    out
}

/// Plain loops over `Vec`s: the reference the run must match bit for bit.
fn sequential(u: &[f64], n: usize, alpha: f64, steps: usize) -> Vec<f64> {
    let mut u = u.to_vec();
    for _ in 0..steps {
        let mut next = u.clone();
        for i in 1..n - 1 {
            for j in 1..n - 1 {
                let c = u[i * n + j];
                let lap =
                    u[(i - 1) * n + j] + u[(i + 1) * n + j] + u[i * n + j + 1] + u[i * n + j - 1]
                        - 4.0 * c;
                next[i * n + j] = c + alpha * lap;
            }
        }
        u = next;
    }
    u
}

const N: usize = 48;
const STEPS: usize = 4;

/// The selfcheck's graph, its initial grids with their alphas, and the final value.
struct Check {
    g: Graph,
    grids: Vec<(Handle, f64)>,
    top: Handle,
}

/// Four grids, each stepped `STEPS` times with its own alpha, combined pairwise by axpy,
/// spawned through the library API (`Graph::spawn_kernel`).
fn check_graph() -> Result<Check, GraphError> {
    let mut g = Graph::new();
    let mut grids = Vec::new();
    let mut ends = Vec::new();
    for k in 0..4u64 {
        let alpha = 0.05 * (k + 1) as f64;
        let rand = Op::new(dirk::kernels::Rand {
            seed: 11 + k,
            dtype: DType::F64,
        });
        let u0 = g.spawn(rand, [Arg::Shape(vec![N, N])])?;
        g.output(format!("u0_{k}"), u0)?;
        let mut u = u0;
        for _ in 0..STEPS {
            u = g.spawn_kernel("heat_app::heat5", [u.into()], Heat { alpha })?;
        }
        grids.push((u0, alpha));
        ends.push(u);
    }
    let axpy = |g: &mut Graph, x: Handle, y: Handle, a: f64| {
        g.spawn_kernel("heat_app::axpy", [x.into(), y.into()], Axpy { a })
    };
    let left = axpy(&mut g, ends[0], ends[1], 0.5)?;
    let right = axpy(&mut g, ends[2], ends[3], 2.0)?;
    let top = axpy(&mut g, left, right, -1.0)?;
    g.output("top", top)?;
    Ok(Check { g, grids, top })
}

/// Runs `check_graph` on every rank; rank 0 compares the result with `sequential`.
fn selfcheck() -> ExitCode {
    if dirk::registry::install(kernels()).is_err() {
        eprintln!("heat_app: kernel table already installed");
        return ExitCode::from(1);
    }
    let rt = match Runtime::init() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("heat_app: {e}");
            return ExitCode::from(1);
        }
    };
    let Check { g, grids, top } = check_graph().expect("the graph is well typed");
    let result = match rt.run(&g, &Settings::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("heat_app: {e}");
            return ExitCode::from(1);
        }
    };
    if rt.rank() != 0 {
        return ExitCode::SUCCESS;
    }
    let f64s = |v: Option<&Value>| -> Vec<f64> {
        v.and_then(Value::as_array)
            .and_then(|a| a.as_f64())
            .expect("an f64 grid")
            .to_vec()
    };
    let ends: Vec<Vec<f64>> = grids
        .iter()
        .map(|&(u0, alpha)| sequential(&f64s(result.fetch(u0)), N, alpha, STEPS))
        .collect();
    let axpy = |a: f64, x: &[f64], y: &[f64]| -> Vec<f64> {
        x.iter().zip(y).map(|(x, y)| a * x + y).collect()
    };
    let want = axpy(
        -1.0,
        &axpy(0.5, &ends[0], &ends[1]),
        &axpy(2.0, &ends[2], &ends[3]),
    );
    let got = f64s(result.fetch(top));
    if got == want {
        println!("heat_app: ok ({} ranks, {N}x{N}, {STEPS} steps)", rt.size());
        ExitCode::SUCCESS
    } else {
        let bad = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        eprintln!("heat_app: MISMATCH in {bad} of {} values", want.len());
        ExitCode::from(1)
    }
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("selfcheck") {
        return selfcheck();
    }
    dirk::main_with(kernels())
}
