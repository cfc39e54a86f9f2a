//! The kernels every build has, one registration line each. A kernel is defined in its own
//! file under `kernels/` (its params type implements `Builtin`); the order here is the order
//! `dirk info` lists them. The job-file kernels keep their bare names; the tiled-array ops
//! the workload generators spawn are in the same table, not named by job files.

use super::define::Builtin;
use super::kernel::Kernel;
use crate::kernels as k;
use std::sync::Arc;

fn of<P: Builtin>() -> Arc<Kernel> {
    Arc::clone(P::record())
}

/// The built-in kernel records.
pub(super) fn all() -> Vec<Arc<Kernel>> {
    vec![
        of::<k::Rand>(),
        of::<k::Fill>(),
        of::<k::Load>(),
        of::<k::Add>(),
        of::<k::Sub>(),
        of::<k::Mul>(),
        of::<k::Div>(),
        of::<k::Sum>(),
        of::<k::Matmul>(),
        of::<k::Transpose>(),
        of::<k::Busy>(),
        of::<k::RandTile>(),
        of::<k::RandSpd>(),
        of::<k::LoadTile>(),
        of::<k::Slice>(),
        of::<k::LifeStep>(),
        of::<k::HeatStep>(),
        of::<k::Conv2d>(),
        of::<k::Potrf>(),
        of::<k::Trsm>(),
        of::<k::Syrk>(),
        of::<k::GemmNt>(),
        of::<k::MatmulAcc>(),
        of::<k::TaskBenchTask>(),
    ]
}
