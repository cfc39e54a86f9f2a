//! A 2-D tile grid: the tiles' offsets and extents, and where each tile belongs.

use super::axis::Axis;
use crate::graph::{Placement, TileLayout};

/// A 2-D array cut into `rows.parts()` × `cols.parts()` tiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileGrid {
    /// The cut of axis 0.
    pub rows: Axis,
    /// The cut of axis 1.
    pub cols: Axis,
    /// How tiles are dealt out over ranks.
    pub layout: TileLayout,
}

impl TileGrid {
    /// A grid of `tiles[0]`×`tiles[1]` near-equal tiles over `shape` (block layout).
    pub fn even(shape: [usize; 2], tiles: [usize; 2]) -> TileGrid {
        TileGrid {
            rows: Axis::even(shape[0], tiles[0]),
            cols: Axis::even(shape[1], tiles[1]),
            layout: TileLayout::Block,
        }
    }

    /// Square tiles of edge `tile` over `shape` (ragged at the end), with `layout`.
    pub fn fixed(shape: [usize; 2], tile: usize, layout: TileLayout) -> TileGrid {
        TileGrid {
            rows: Axis::fixed(shape[0], tile),
            cols: Axis::fixed(shape[1], tile),
            layout,
        }
    }

    /// Shape of the whole array.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows.total(), self.cols.total()]
    }

    /// Number of tiles along each axis.
    pub fn tiles(&self) -> [usize; 2] {
        [self.rows.parts(), self.cols.parts()]
    }

    /// Where tile (i, j) starts.
    pub fn offset(&self, i: usize, j: usize) -> [usize; 2] {
        [self.rows.start(i), self.cols.start(j)]
    }

    /// Extent of tile (i, j).
    pub fn extent(&self, i: usize, j: usize) -> [usize; 2] {
        [self.rows.len(i), self.cols.len(j)]
    }

    /// The placement hint of tile (i, j): the planner maps it to a rank.
    pub fn placement(&self, i: usize, j: usize) -> Placement {
        let [rows, cols] = self.tiles();
        Placement::Tile {
            row: i as u32,
            col: j as u32,
            rows: rows as u32,
            cols: cols as u32,
            layout: self.layout,
        }
    }
}
