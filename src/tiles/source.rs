//! Where a tiled array's initial values come from: a seed or an HDF5 dataset. Either way each
//! tile is its own task that produces only its window, on the rank that owns the tile.

use crate::graph::{Arg, DType, Graph, GraphError, Handle, Op, Placement, Scope};

/// The origin of a workload's initial data.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// `rand(seed, shape)` of the whole array (f64 uniform in [0, 1), u8 0 or 1).
    Seed(u64),
    /// A dataset of an HDF5 file (checked to exist with the right shape when the job loads).
    File {
        /// The file's path.
        path: String,
        /// The dataset inside it.
        dataset: String,
    },
}

impl Source {
    /// Spawns task `id`: the window of the source array (of shape `global`) at `offset`.
    #[allow(clippy::too_many_arguments)]
    pub fn spawn_window(
        &self,
        g: &mut Graph,
        id: String,
        dtype: DType,
        global: &[usize],
        offset: &[usize],
        shape: &[usize],
        placement: Placement,
    ) -> Result<Handle, GraphError> {
        let (op, args) = match self {
            Source::Seed(seed) => (
                Op::new(crate::kernels::RandTile {
                    seed: *seed,
                    dtype,
                    global: global.to_vec(),
                    offset: offset.to_vec(),
                }),
                vec![Arg::Shape(shape.to_vec())],
            ),
            Source::File { path, dataset } => (
                Op::new(crate::kernels::LoadTile {
                    file: path.clone(),
                    dataset: dataset.clone(),
                    dtype,
                    offset: offset.to_vec(),
                    shape: shape.to_vec(),
                }),
                Vec::new(),
            ),
        };
        let h = g.spawn_named(id, op, args, Scope::Any)?;
        g.place(h, placement);
        Ok(h)
    }
}
