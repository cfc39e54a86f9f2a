//! Blocked (tiled) arrays: the layer the tiled workload generators share.
//!
//! A `TileGrid` cuts a 2-D array into tiles that need not divide it evenly and says where
//! each tile would like to live (`Placement`: block for stencils, block-cyclic for dense
//! linear algebra), independently of the rank count. A `TiledArray` is one task handle per
//! tile. `halo` spawns the strip extractions a stencil step reads, placed beside the tile
//! they come from, so only strips cross ranks; `TiledArray::output` assembles the tiles into
//! one output dataset. Everything here builds graph nodes; nothing runs.

mod array;
mod axis;
mod grid;
mod halo;
mod source;

pub use array::TiledArray;
pub use axis::Axis;
pub use grid::TileGrid;
pub use halo::{ghost_args, halo_args, neighbour_sides, Boundary};
pub use source::Source;
