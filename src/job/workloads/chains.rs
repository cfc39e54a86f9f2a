//! `chains`: independent chains of `busy` tasks, for scheduling benchmarks. Outputs `/c0`,
//! `/c1`, … (each chain's last value).
//!
//! Chain c starts from `rand` of `size` values (seed `seed + c`) and runs `length` `busy`
//! tasks, each of `iterations[c mod len]` iterations (`iterations` is a number or a list,
//! cycled over the chains). Chain c carries the placement hint "group c of `chains`": the
//! chains are dealt out in contiguous blocks over the ranks by count, as a data layout would
//! deal them, whatever their costs. So with a list such as `[10e6, 10e6, 1e6, 1e6]` the
//! first ranks get the heavy chains, a skew the plan does not balance and only the run can
//! (cross-rank stealing). Every `busy` returns its input; with `"mul": x` each `busy` is
//! followed by a `mul` by x, so every value of a chain differs (tests), else the outputs are
//! the `rand` values.

use crate::graph::{DType, Graph, Op, Placement, Scope};
use crate::job::{JobError, Params};

/// Spawns the chains.
pub(super) fn generate(p: &mut Params<'_>, g: &mut Graph) -> Result<(), JobError> {
    let chains = p.positive("chains")?;
    let length = p.positive("length")?;
    let size = p.positive("size")?;
    let seed = p.u64_or("seed", 0)?;
    let mul = match p.raw("mul") {
        None => None,
        Some(_) => Some(p.f64_or("mul", 1.0)?),
    };
    let iterations: Vec<u64> = match p.raw("iterations") {
        Some(serde_json::Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|v| {
                v.as_f64()
                    .filter(|x| *x >= 0.0 && x.fract() == 0.0)
                    .map(|x| x as u64)
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| p.error("iterations", "expected non-negative integers"))?,
        Some(_) => vec![p.u64("iterations")?],
        None => return Err(p.error("iterations", "missing: a number or a list of numbers")),
    };
    let per_link = if mul.is_some() { 2 } else { 1 };
    let count = (length as u64)
        .checked_mul(per_link)
        .and_then(|l| l.checked_add(1)?.checked_mul(chains as u64));
    // `chains` is the one to lower when chains of one link are already too many.
    let shortest = (per_link + 1).checked_mul(chains as u64);
    let key = if crate::graph::Footprint::uniform(shortest, 1)
        .problem(crate::runtime::ram::physical_memory())
        .is_some()
    {
        "chains"
    } else {
        "length"
    };
    super::check_task_count(p, key, count, 1)?;
    let err = |e: crate::graph::GraphError| JobError::new("workload", e.to_string());
    for c in 0..chains {
        let group = Placement::Group {
            index: c as u32,
            count: chains as u32,
        };
        let mut h = g
            .spawn_named(
                format!("c{c}.0"),
                Op::new(crate::kernels::Rand {
                    seed: seed + c as u64,
                    dtype: DType::F64,
                }),
                vec![crate::graph::Arg::Shape(vec![size])],
                Scope::Any,
            )
            .map_err(err)?;
        g.place(h, group);
        for k in 1..=length {
            h = g
                .spawn_named(
                    format!("c{c}.{k}"),
                    Op::new(crate::kernels::Busy {
                        iterations: iterations[c % iterations.len()],
                    }),
                    vec![h.into()],
                    Scope::Any,
                )
                .map_err(err)?;
            g.place(h, group);
            if let Some(x) = mul {
                h = g
                    .spawn_named(
                        format!("c{c}.{k}.mul"),
                        Op::new(crate::kernels::Mul),
                        vec![h.into(), x.into()],
                        Scope::Any,
                    )
                    .map_err(err)?;
                g.place(h, group);
            }
        }
        g.output(format!("c{c}"), h).map_err(err)?;
    }
    Ok(())
}
