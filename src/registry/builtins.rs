//! The kernels every build has, as job files name them: one registration line each, with
//! its params parser. Each parser yields the op's `Op` variant; the variant's typing rule is
//! in `graph::op`, its CPU kernel in `kernels/`, its GPU kernel in `device/`.

use super::kernel::Kernel;
use crate::graph::Op;
use crate::job::{resolve_input, JobError, Params};
use crate::store;
use std::path::Path;

/// The built-in kernel records, in the order `dirk info` lists them.
pub(super) fn all() -> Vec<Kernel> {
    vec![
        Kernel::builtin("rand", "[shape]", |p, _| {
            Ok(Op::Rand {
                seed: p.u64_or("seed", 0)?,
                dtype: p.dtype()?,
            })
        }),
        Kernel::builtin("fill", "[shape, value]", |p, _| {
            Ok(Op::Fill { dtype: p.dtype()? })
        }),
        Kernel::builtin("load", "[]", load),
        Kernel::builtin("add", "[a, b]", |_, _| Ok(Op::Add)),
        Kernel::builtin("sub", "[a, b]", |_, _| Ok(Op::Sub)),
        Kernel::builtin("mul", "[a, b]", |_, _| Ok(Op::Mul)),
        Kernel::builtin("div", "[a, b]", |_, _| Ok(Op::Div)),
        Kernel::builtin("sum", "[a]", |_, _| Ok(Op::Sum)),
        Kernel::builtin("matmul", "[a, b]", |_, _| Ok(Op::Matmul)),
        Kernel::builtin("transpose", "[a]", |_, _| Ok(Op::Transpose)),
        Kernel::builtin("busy", "[a]", |p, _| {
            Ok(Op::Busy {
                iterations: p.u64_or("iterations", 0)?,
            })
        }),
    ]
}

/// `load`: probes the dataset now, so a missing input fails before anything runs.
fn load(p: &mut Params<'_>, base: &Path) -> Result<Op, JobError> {
    let file = p.str("file")?;
    let dataset = p.str("dataset")?;
    let path = resolve_input(file, base);
    let ty = store::probe_dataset(&path, dataset).map_err(|e| p.error("file", e.to_string()))?;
    Ok(Op::Load {
        file: path.display().to_string(),
        dataset: dataset.to_string(),
        ty,
    })
}
