//! Mapping placement hints (`graph::Placement`) to ranks for the actual rank count.
//!
//! Groups are dealt out in contiguous blocks. Tiles go to a P×Q grid of ranks (P·Q = ranks):
//! by blocks of tiles for `TileLayout::Block`, cyclically for `TileLayout::Cyclic`. The rank
//! grid is a pure function of the rank count and the tile grid, so the plan stays
//! deterministic. When no P×Q grid gives every rank a tile (5 ranks, 4×4 tiles), block
//! layout falls back to contiguous runs of tiles in row-major order.

use crate::graph::{Placement, TileLayout};

/// The P×Q rank grid for block layout of a `rows`×`cols` tile grid: the fewest tile
/// boundaries between ranks, then more rank rows (row strips are contiguous in memory);
/// `None` when no P×Q grid gives every rank a tile.
fn block_grid(ranks: u32, rows: u32, cols: u32) -> Option<(u32, u32)> {
    (1..=ranks)
        .filter(|p| ranks % p == 0)
        .map(|p| (p, ranks / p))
        .filter(|&(p, q)| p <= rows && q <= cols)
        .min_by_key(|&(p, q)| {
            let cut = u64::from(p - 1) * u64::from(cols) + u64::from(q - 1) * u64::from(rows);
            (cut, u32::MAX - p)
        })
}

/// The P×Q rank grid for block-cyclic layout: as square as possible, P ≤ Q.
fn cyclic_grid(ranks: u32) -> (u32, u32) {
    let mut p = (ranks as f64).sqrt() as u32;
    while p > 1 && ranks % p != 0 {
        p -= 1;
    }
    let p = p.max(1);
    (p, ranks / p)
}

/// The rank a hint asks for among `ranks` ranks, or `None` for no preference.
pub(super) fn preferred_rank(placement: &Placement, ranks: u32) -> Option<u32> {
    match *placement {
        Placement::Free => None,
        Placement::Group { index, count } => {
            Some((u64::from(index) * u64::from(ranks) / u64::from(count.max(1))) as u32)
        }
        Placement::Tile {
            row,
            col,
            rows,
            cols,
            layout,
        } => {
            let (p, q) = match layout {
                TileLayout::Block => match block_grid(ranks, rows, cols) {
                    Some(g) => g,
                    // No rank grid fits: contiguous runs of tiles in row-major order.
                    None => {
                        let tiles = u64::from(rows) * u64::from(cols);
                        let k = u64::from(row) * u64::from(cols) + u64::from(col);
                        return Some((k * u64::from(ranks) / tiles.max(1)) as u32);
                    }
                },
                TileLayout::Cyclic => cyclic_grid(ranks),
            };
            let (pr, pc) = match layout {
                TileLayout::Block => (
                    (u64::from(row) * u64::from(p) / u64::from(rows.max(1))) as u32,
                    (u64::from(col) * u64::from(q) / u64::from(cols.max(1))) as u32,
                ),
                TileLayout::Cyclic => (row % p, col % q),
            };
            Some(pr * q + pc)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(row: u32, col: u32, rows: u32, cols: u32, layout: TileLayout) -> Placement {
        Placement::Tile {
            row,
            col,
            rows,
            cols,
            layout,
        }
    }

    #[test]
    fn block_tiles_split_rows_first_and_cover_every_rank() {
        for ranks in 1..=6 {
            let mut seen = vec![0; ranks as usize];
            for i in 0..4 {
                for j in 0..4 {
                    let r = preferred_rank(&tile(i, j, 4, 4, TileLayout::Block), ranks).unwrap();
                    seen[r as usize] += 1;
                }
            }
            assert!(seen.iter().all(|&n| n > 0), "ranks {ranks}: {seen:?}");
        }
        // Two ranks: the top half of the rows on rank 0, the bottom half on rank 1.
        assert_eq!(
            preferred_rank(&tile(1, 3, 4, 4, TileLayout::Block), 2),
            Some(0)
        );
        assert_eq!(
            preferred_rank(&tile(2, 0, 4, 4, TileLayout::Block), 2),
            Some(1)
        );
        // One tile row: split the columns instead.
        assert_eq!(block_grid(2, 1, 8), Some((1, 2)));
    }

    #[test]
    fn cyclic_tiles_deal_out_round_robin() {
        assert_eq!(cyclic_grid(4), (2, 2));
        assert_eq!(cyclic_grid(3), (1, 3));
        let r = |i, j| preferred_rank(&tile(i, j, 8, 8, TileLayout::Cyclic), 4).unwrap();
        assert_eq!(
            (r(0, 0), r(0, 1), r(1, 0), r(1, 1), r(2, 2)),
            (0, 1, 2, 3, 0)
        );
    }

    #[test]
    fn groups_are_contiguous_blocks() {
        let g = |index| preferred_rank(&Placement::Group { index, count: 8 }, 3).unwrap();
        let ranks: Vec<u32> = (0..8).map(g).collect();
        assert_eq!(ranks, vec![0, 0, 0, 1, 1, 1, 2, 2]);
    }
}

#[cfg(test)]
mod planner_tests {
    use crate::graph::{Arg, DType, Graph, Op, Placement, Scope, TileLayout};
    use crate::plan::{assign, RankInfo};

    fn ranks(n: usize) -> Vec<RankInfo> {
        vec![
            RankInfo {
                threads: 2,
                gpus: 0
            };
            n
        ]
    }

    /// Tile hints win over the finish-time heuristic; a scope still wins over a hint.
    #[test]
    fn hints_place_tiles_and_scopes_override_them() {
        let mut g = Graph::new();
        let mut tiles = Vec::new();
        for i in 0..4u32 {
            let op = Op::new(crate::kernels::Rand {
                seed: 0,
                dtype: DType::F64,
            });
            let scope = if i == 3 { Scope::Rank(0) } else { Scope::Any };
            let h = g
                .spawn_named(format!("t{i}"), op, vec![Arg::Shape(vec![10])], scope)
                .unwrap();
            g.place(
                h,
                Placement::Tile {
                    row: i,
                    col: 0,
                    rows: 4,
                    cols: 1,
                    layout: TileLayout::Block,
                },
            );
            tiles.push(h);
        }
        let a = assign(&g, &ranks(2)).unwrap();
        let owner: Vec<u32> = tiles.iter().map(|h| a.owner[h.index()]).collect();
        // Rows 0-1 on rank 0, rows 2-3 on rank 1, except row 3, whose scope names rank 0.
        assert_eq!(owner, vec![0, 0, 1, 0]);
        // The same graph on 4 ranks: one row each (row 3 still pinned to rank 0).
        let a = assign(&g, &ranks(4)).unwrap();
        let owner: Vec<u32> = tiles.iter().map(|h| a.owner[h.index()]).collect();
        assert_eq!(owner, vec![0, 1, 2, 0]);
    }
}
