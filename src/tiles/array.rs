//! A tiled array inside a graph: one task handle per tile, and its assembly as an output.

use super::grid::TileGrid;
use super::source::Source;
use crate::graph::{DType, Graph, GraphError, Handle, Output, OutputPart, ValueType};

/// The tiles of one 2-D array, each the value of a task, row-major over the tile grid.
#[derive(Clone, Debug)]
pub struct TiledArray {
    /// The geometry and placement of the tiles.
    pub grid: TileGrid,
    /// One task per tile, tile (i, j) at `i * cols + j`.
    pub tiles: Vec<Handle>,
}

impl TiledArray {
    /// Spawns one task per tile reading its window of `source`; ids are `{prefix}{i}_{j}`.
    pub fn from_source(
        g: &mut Graph,
        grid: TileGrid,
        source: &Source,
        dtype: DType,
        prefix: &str,
    ) -> Result<TiledArray, GraphError> {
        let [rows, cols] = grid.tiles();
        let global = grid.shape();
        let mut tiles = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                tiles.push(source.spawn_window(
                    g,
                    format!("{prefix}{i}_{j}"),
                    dtype,
                    &global,
                    &grid.offset(i, j),
                    &grid.extent(i, j),
                    grid.placement(i, j),
                )?);
            }
        }
        Ok(TiledArray { grid, tiles })
    }

    /// The task of tile (i, j).
    pub fn tile(&self, i: usize, j: usize) -> Handle {
        self.tiles[i * self.grid.tiles()[1] + j]
    }

    /// The whole array as one output dataset `name`, assembled from the tiles.
    pub fn output(&self, name: &str, dtype: DType) -> Output {
        let [rows, cols] = self.grid.tiles();
        let mut parts = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                parts.push(OutputPart {
                    task: self.tile(i, j).index() as u32,
                    offset: self.grid.offset(i, j).to_vec(),
                });
            }
        }
        Output {
            name: name.to_string(),
            ty: ValueType::Array {
                dtype,
                shape: self.grid.shape().to_vec(),
            },
            parts,
        }
    }

    /// Marks the array as output dataset `name` of `g`.
    pub fn mark_output(&self, g: &mut Graph, name: &str, dtype: DType) -> Result<(), GraphError> {
        g.output_tiled(self.output(name, dtype))
    }
}
