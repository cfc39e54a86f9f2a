//! Speed-aware re-planning: which tiles of a stencil change owner when ranks run at different
//! speeds (Charm++'s measurement-based balancers and Uintah's patch re-partitioning are the
//! models).
//!
//! Two pure parts, no MPI and no graph:
//! - [`SpeedMeter`]: a rank's speed is its cost model's predicted time for the tasks it ran
//!   divided by the time they really took, smoothed over exchange epochs. It says how fast a
//!   rank is, not which tiles are heavy: a rank that owns heavy tiles but runs them at the
//!   predicted pace has speed 1.
//! - [`rebalance`]: given every tile's predicted time per epoch, its owner, the tiles it
//!   borders and the ranks' speeds, the moves that shorten the slowest rank's epoch. A tile
//!   moves only from the rank with the longest epoch (its work over its speed) to a rank it
//!   borders, so halos stay short; a tile goes back to its home rank first when that is as
//!   good. The moves are applied only when the time they save over the coming epochs exceeds
//!   what moving the tiles costs by the policy's margin, and only when they shorten the
//!   epoch by a fraction larger than the meter's noise: no thrashing.
//!
//! Invariants: the answer is a pure function of its inputs (ties broken by rank, then tile
//! index), so every rank computing it gets the same moves; applying the moves and asking
//! again with the same speeds gives no moves (the greedy loop stops only where no single
//! border move shortens the longest epoch).

/// One tile as the policy sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct TileLoad {
    /// Predicted seconds of work per epoch at speed 1 (the cost model's figure).
    pub seconds: f64,
    /// Bytes that move with the tile.
    pub bytes: u64,
    /// The rank the original plan gave it.
    pub home: u32,
    /// The tiles it exchanges halos with (indices into the same slice).
    pub neighbours: Vec<usize>,
}

/// The knobs of the policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// Epochs over which a move's gain is counted (the coming exchanges it pays off in).
    pub horizon_epochs: f64,
    /// The gain must exceed the moving cost times this.
    pub margin: f64,
    /// The longest epoch must shrink by at least this fraction (the meter's noise).
    pub min_gain_fraction: f64,
    /// Seconds a moved tile costs beyond its bytes (a message round and re-wiring).
    pub move_latency_s: f64,
    /// Bytes per second a tile moves at.
    pub bandwidth: f64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            horizon_epochs: 8.0,
            margin: 2.0,
            min_gain_fraction: 0.02,
            move_latency_s: 1e-3,
            bandwidth: 1e9,
        }
    }
}

/// One change of owner.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Move {
    /// Tile index.
    pub tile: usize,
    /// Old owner.
    pub from: u32,
    /// New owner.
    pub to: u32,
}

/// The moves for one epoch boundary and what they are predicted to give.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The moves, in the order they were chosen.
    pub moves: Vec<Move>,
    /// The slowest rank's epoch before and after, seconds.
    pub epoch_before: f64,
    /// After the moves.
    pub epoch_after: f64,
    /// Seconds saved over the horizon.
    pub predicted_gain_s: f64,
    /// Seconds the moves cost.
    pub cost_s: f64,
}

/// One possible move off the slowest rank, as the greedy loop ranks them.
struct Candidate {
    /// The larger of the two ranks' epochs after the move.
    worst: f64,
    /// The tile goes back to its home rank.
    home: bool,
    /// Halo edges between the tile and the receiver's tiles.
    edges: usize,
    to: u32,
    tile: usize,
}

impl Candidate {
    /// Better than `b`: the lower resulting maximum; then going home; then the most halo
    /// edges to the receiver; then the lowest rank and tile index.
    fn before(&self, b: &Candidate) -> bool {
        self.worst
            .total_cmp(&b.worst)
            .then(b.home.cmp(&self.home))
            .then(b.edges.cmp(&self.edges))
            .then((self.to, self.tile).cmp(&(b.to, b.tile)))
            .is_lt()
    }
}

/// Each rank's epoch time: its tiles' work over its speed.
fn epoch_times(tiles: &[TileLoad], owner: &[u32], speeds: &[f64]) -> Vec<f64> {
    let mut work = vec![0.0; speeds.len()];
    for (t, &o) in tiles.iter().zip(owner) {
        work[o as usize] += t.seconds;
    }
    work.iter().zip(speeds).map(|(w, s)| w / s).collect()
}

/// The slowest rank (lowest rank among equals) and its epoch.
fn slowest(times: &[f64]) -> (usize, f64) {
    times
        .iter()
        .copied()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (r, t)| {
            if t > best.1 {
                (r, t)
            } else {
                best
            }
        })
}

/// The moves that balance `owner` for `speeds` (one entry per rank, each > 0), or none when
/// they would not pay for themselves. `owner` is not changed; apply the moves to it.
pub fn rebalance(tiles: &[TileLoad], owner: &[u32], speeds: &[f64], policy: &Policy) -> Plan {
    assert_eq!(tiles.len(), owner.len(), "one owner per tile");
    assert!(
        speeds.iter().all(|s| s.is_finite() && *s > 0.0),
        "speeds are positive"
    );
    let mut own = owner.to_vec();
    let mut times = epoch_times(tiles, &own, speeds);
    let (_, before) = slowest(&times);
    let mut moves = Vec::new();
    loop {
        let (d, longest) = slowest(&times);
        // The best single border move off the slowest rank (`Candidate::before`).
        let mut best: Option<Candidate> = None;
        for (t, tile) in tiles.iter().enumerate() {
            if own[t] as usize != d {
                continue;
            }
            let mut seen: Vec<u32> = Vec::new();
            for &n in &tile.neighbours {
                let r = own[n];
                if r as usize == d || seen.contains(&r) {
                    continue;
                }
                seen.push(r);
                let to_time = times[r as usize] + tile.seconds / speeds[r as usize];
                let from_time = longest - tile.seconds / speeds[d];
                let worst = to_time.max(from_time);
                if worst >= longest * (1.0 - 1e-12) {
                    continue;
                }
                let c = Candidate {
                    worst,
                    home: tile.home == r,
                    edges: tile.neighbours.iter().filter(|&&m| own[m] == r).count(),
                    to: r,
                    tile: t,
                };
                if best.as_ref().is_none_or(|b| c.before(b)) {
                    best = Some(c);
                }
            }
        }
        let Some(Candidate { tile: t, to, .. }) = best else {
            break;
        };
        moves.push(Move {
            tile: t,
            from: d as u32,
            to,
        });
        times[d] -= tiles[t].seconds / speeds[d];
        times[to as usize] += tiles[t].seconds / speeds[to as usize];
        own[t] = to;
        if moves.len() > tiles.len() * speeds.len() {
            break; // cannot happen: every move lowers the sorted epoch times
        }
    }
    let (_, after) = slowest(&times);
    let cost_s: f64 = moves
        .iter()
        .map(|m| policy.move_latency_s + tiles[m.tile].bytes as f64 / policy.bandwidth)
        .sum();
    let predicted_gain_s = (before - after) * policy.horizon_epochs;
    let pays = predicted_gain_s > cost_s * policy.margin
        && before - after > before * policy.min_gain_fraction;
    Plan {
        moves: if pays { moves } else { Vec::new() },
        epoch_before: before,
        epoch_after: if pays { after } else { before },
        predicted_gain_s: if pays { predicted_gain_s } else { 0.0 },
        cost_s: if pays { cost_s } else { 0.0 },
    }
}

/// A rank's speed from its task times, smoothed over epochs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpeedMeter {
    /// Weight of the newest epoch (0 < alpha ≤ 1).
    alpha: f64,
    speed: Option<f64>,
}

impl SpeedMeter {
    /// A meter whose newest epoch counts `alpha`.
    pub fn new(alpha: f64) -> SpeedMeter {
        assert!(alpha > 0.0 && alpha <= 1.0, "0 < alpha <= 1");
        SpeedMeter { alpha, speed: None }
    }

    /// Counts one epoch: the cost model's predicted seconds for the tasks the rank ran and the
    /// seconds they took. An epoch with no measured time leaves the speed as it was.
    pub fn epoch(&mut self, predicted_s: f64, measured_s: f64) {
        if !(measured_s > 0.0 && predicted_s > 0.0) {
            return;
        }
        let now = predicted_s / measured_s;
        self.speed = Some(match self.speed {
            None => now,
            Some(s) => s + self.alpha * (now - s),
        });
    }

    /// The smoothed speed; 1 before any epoch.
    pub fn speed(&self) -> f64 {
        self.speed.unwrap_or(1.0)
    }
}

/// Speeds relative to the fastest rank (the fastest is 1), so the policy's thresholds do not
/// depend on how good the cost model's absolute figures are.
pub fn relative(speeds: &[f64]) -> Vec<f64> {
    let top = speeds.iter().copied().fold(0.0, f64::max);
    speeds
        .iter()
        .map(|s| if top > 0.0 { s / top } else { 1.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `rows`×`cols` grid of unit tiles in row strips over `ranks` ranks (block layout).
    fn strips(rows: usize, cols: usize, ranks: u32) -> (Vec<TileLoad>, Vec<u32>) {
        let mut tiles = Vec::new();
        let mut owner = Vec::new();
        for i in 0..rows {
            for j in 0..cols {
                let mut neighbours = Vec::new();
                if i > 0 {
                    neighbours.push((i - 1) * cols + j);
                }
                if i + 1 < rows {
                    neighbours.push((i + 1) * cols + j);
                }
                if j > 0 {
                    neighbours.push(i * cols + j - 1);
                }
                if j + 1 < cols {
                    neighbours.push(i * cols + j + 1);
                }
                let home = (i * ranks as usize / rows) as u32;
                tiles.push(TileLoad {
                    seconds: 0.01,
                    bytes: 1 << 20,
                    home,
                    neighbours,
                });
                owner.push(home);
            }
        }
        (tiles, owner)
    }

    fn apply(owner: &mut [u32], plan: &Plan) {
        for m in &plan.moves {
            assert_eq!(owner[m.tile], m.from, "a move starts at the owner");
            owner[m.tile] = m.to;
        }
    }

    #[test]
    fn a_slow_rank_gives_border_tiles_to_its_neighbour() {
        // 8×8 tiles, 32 a rank; rank 1 at 0.9: epochs 0.32 and 0.356 s. One tile over gives
        // 0.33 / 0.344, two give 0.34 / 0.333, three would give 0.35 / 0.322: two move.
        let (tiles, mut owner) = strips(8, 8, 2);
        let plan = rebalance(&tiles, &owner, &[1.0, 0.9], &Policy::default());
        assert_eq!(plan.moves.len(), 2, "{plan:?}");
        for m in &plan.moves {
            assert_eq!((m.from, m.to), (1, 0));
            // Row 4 is rank 1's first row, the border with rank 0.
            assert_eq!(m.tile / 8, 4, "tile {} is on the border", m.tile);
        }
        assert!((plan.epoch_before - 0.32 / 0.9).abs() < 1e-9);
        assert!((plan.epoch_after - 0.34).abs() < 1e-9);
        apply(&mut owner, &plan);
        assert_eq!(owner.iter().filter(|&&o| o == 0).count(), 34);
    }

    #[test]
    fn applying_the_moves_and_asking_again_moves_nothing() {
        let (tiles, mut owner) = strips(8, 8, 4);
        let speeds = [1.0, 0.8, 1.0, 0.95];
        let plan = rebalance(&tiles, &owner, &speeds, &Policy::default());
        assert!(!plan.moves.is_empty());
        apply(&mut owner, &plan);
        let again = rebalance(&tiles, &owner, &speeds, &Policy::default());
        assert!(again.moves.is_empty(), "{again:?}");
        assert_eq!(again.epoch_before, plan.epoch_after);
    }

    #[test]
    fn tiles_return_home_when_the_slowdown_ends() {
        let (tiles, home) = strips(8, 8, 2);
        let mut owner = home.clone();
        let away = rebalance(&tiles, &owner, &[1.0, 0.85], &Policy::default());
        apply(&mut owner, &away);
        assert_ne!(owner, home);
        let back = rebalance(&tiles, &owner, &[1.0, 1.0], &Policy::default());
        apply(&mut owner, &back);
        assert_eq!(owner, home, "{back:?}");
    }

    #[test]
    fn no_move_below_the_gain_threshold() {
        let (tiles, owner) = strips(8, 8, 2);
        // 1 % slower: the best move shortens the epoch by less than 2 %.
        assert!(rebalance(&tiles, &owner, &[1.0, 0.99], &Policy::default())
            .moves
            .is_empty());
        // 10 % slower, but the tiles are so large that moving them costs more than the
        // horizon saves.
        let heavy: Vec<TileLoad> = tiles
            .iter()
            .map(|t| TileLoad {
                bytes: 1 << 30,
                ..t.clone()
            })
            .collect();
        let plan = rebalance(&heavy, &owner, &[1.0, 0.9], &Policy::default());
        assert!(plan.moves.is_empty(), "{plan:?}");
        assert_eq!(plan.epoch_after, plan.epoch_before);
    }

    #[test]
    fn equal_speeds_and_balanced_tiles_move_nothing() {
        let (tiles, owner) = strips(16, 16, 4);
        let plan = rebalance(&tiles, &owner, &[1.0; 4], &Policy::default());
        assert!(plan.moves.is_empty());
    }

    #[test]
    fn a_rank_without_a_border_to_the_fast_one_passes_work_along_the_chain() {
        // Strips 0-1-2: rank 0 slow; rank 2 can only take work through rank 1.
        let (tiles, mut owner) = strips(12, 8, 3);
        let speeds = [0.8, 1.0, 1.0];
        let plan = rebalance(&tiles, &owner, &speeds, &Policy::default());
        apply(&mut owner, &plan);
        let times = epoch_times(&tiles, &owner, &speeds);
        let even = tiles.iter().map(|t| t.seconds).sum::<f64>() / 2.8;
        assert!(slowest(&times).1 < even * 1.06, "{times:?} against {even}");
        assert!(plan.moves.iter().any(|m| (m.from, m.to) == (1, 2)));
    }

    #[test]
    fn the_meter_smooths_and_ignores_empty_epochs() {
        let mut m = SpeedMeter::new(0.5);
        assert_eq!(m.speed(), 1.0);
        m.epoch(1.0, 2.0);
        assert_eq!(m.speed(), 0.5);
        m.epoch(1.0, 1.0);
        assert_eq!(m.speed(), 0.75);
        m.epoch(0.0, 0.0);
        assert_eq!(m.speed(), 0.75);
        assert_eq!(relative(&[0.5, 0.25]), vec![1.0, 0.5]);
    }
}
