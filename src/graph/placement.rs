//! Placement hints: where a task would like to run, said independently of the rank count.
//!
//! A generator that lays data out in tiles knows which tasks belong together (a tile and the
//! steps that update it) but not how many ranks the job will get. A `Placement` names the
//! tile or group; the planner maps it to a rank for the actual rank count (`crate::plan`).
//! Unlike `Scope`, a hint is a preference: when the task's scope forbids the hinted rank, the
//! planner ignores the hint and places the task as if it had none.

use serde::{Deserialize, Serialize};

/// How a 2-D grid of tiles is dealt out over a 2-D grid of ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TileLayout {
    /// Contiguous blocks of tiles per rank (stencils: few boundaries between ranks).
    Block,
    /// 2-D block-cyclic: tile (i, j) goes to rank (i mod P, j mod Q) (dense linear algebra:
    /// every rank keeps work as the active trailing matrix shrinks).
    Cyclic,
}

/// A placement preference of a task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Placement {
    /// No preference: the partitioner decides by estimated finish time.
    #[default]
    Free,
    /// Member `index` of `count` equal groups, dealt out in contiguous blocks over the ranks
    /// (group g goes to rank g·R/count).
    Group {
        /// This task's group, below `count`.
        index: u32,
        /// Number of groups.
        count: u32,
    },
    /// Tile (`row`, `col`) of a `rows` × `cols` tile grid, mapped by `layout`.
    Tile {
        /// Tile row.
        row: u32,
        /// Tile column.
        col: u32,
        /// Tile rows in the grid.
        rows: u32,
        /// Tile columns in the grid.
        cols: u32,
        /// Block or block-cyclic.
        layout: TileLayout,
    },
}
