//! `diamond`: x = rand(n); a = x+1; b = a*2; c = a/2; d = b-c. Outputs `/x` and `/d`.

use crate::graph::{Arg, DType, Graph, Op, Scope};
use crate::job::{JobError, Params};

/// Spawns the diamond: the seed example of Dagger.jl.
pub(super) fn generate(p: &mut Params<'_>, g: &mut Graph) -> Result<(), JobError> {
    let n = p.positive("n")?;
    let seed = p.u64_or("seed", 0)?;
    let err = |e: crate::graph::GraphError| JobError::new("workload", e.to_string());
    let mut spawn = |id: &str, op: Op, args: Vec<Arg>| g.spawn_named(id, op, args, Scope::Any);
    let x = spawn(
        "x",
        Op::new(crate::kernels::Rand {
            seed,
            dtype: DType::F64,
        }),
        vec![Arg::Shape(vec![n])],
    )
    .map_err(err)?;
    let a = spawn(
        "a",
        Op::new(crate::kernels::Add),
        vec![x.into(), 1.0.into()],
    )
    .map_err(err)?;
    let b = spawn(
        "b",
        Op::new(crate::kernels::Mul),
        vec![a.into(), 2.0.into()],
    )
    .map_err(err)?;
    let c = spawn(
        "c",
        Op::new(crate::kernels::Div),
        vec![a.into(), 2.0.into()],
    )
    .map_err(err)?;
    let d = spawn("d", Op::new(crate::kernels::Sub), vec![b.into(), c.into()]).map_err(err)?;
    g.output("x", x).map_err(err)?;
    g.output("d", d).map_err(err)?;
    Ok(())
}
