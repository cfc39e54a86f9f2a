//! Task Bench's task graphs: which points exist at each timestep, and which points of the
//! previous timestep each task depends on. A faithful transcription of `TaskGraph` in Task
//! Bench's `core/core.cc` (offset_at_timestep, width_at_timestep, max_dependence_sets,
//! dependence_set_at_timestep, dependencies, reverse_dependencies, and `App::check`), in C
//! `long` arithmetic. Intervals are inclusive `(first, last)` pairs, as in Task Bench.

use super::hash::random_uniform;
use super::kernel::KernelSpec;
use crate::graph::{human_bytes, Footprint};
use serde::{Deserialize, Serialize};

/// A dependence pattern (`-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pattern {
    /// No dependencies.
    Trivial,
    /// Each point depends on itself.
    NoComm,
    /// Each point on itself and its two neighbours.
    Stencil1d,
    /// `stencil_1d`, wrapping around at the ends.
    Stencil1dPeriodic,
    /// A diamond (wavefront): point p on p−1 and p; the width grows then shrinks.
    Dom,
    /// A binary tree: point p on p/2; the width doubles each timestep.
    Tree,
    /// Butterflies: point p on p ± 2^k, k cycling over log2(width) sets.
    Fft,
    /// Every point on every point.
    AllToAll,
    /// Each point on the `radix` points around it.
    Nearest,
    /// Each point on `radix` points spread over the width, shifted by the timestep.
    Spread,
    /// `nearest`, each edge kept with probability `fraction` (Task Bench's SipHash draw of
    /// (graph, radix, dependence set, producer, consumer)), a point always on itself.
    RandomNearest,
}

/// Pattern names as Task Bench spells them, in its help order (sorted).
pub const PATTERN_NAMES: &[(&str, Pattern)] = &[
    ("all_to_all", Pattern::AllToAll),
    ("dom", Pattern::Dom),
    ("fft", Pattern::Fft),
    ("nearest", Pattern::Nearest),
    ("no_comm", Pattern::NoComm),
    ("random_nearest", Pattern::RandomNearest),
    ("spread", Pattern::Spread),
    ("stencil_1d", Pattern::Stencil1d),
    ("stencil_1d_periodic", Pattern::Stencil1dPeriodic),
    ("tree", Pattern::Tree),
    ("trivial", Pattern::Trivial),
];

impl Pattern {
    /// Task Bench's name of the pattern.
    pub fn name(self) -> &'static str {
        PATTERN_NAMES
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .expect("every pattern has a name")
    }

    /// The pattern called `name`.
    pub fn parse(name: &str) -> Option<Pattern> {
        PATTERN_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    }

    /// Patterns whose dependencies change with a period (`-period` required, default 3).
    pub fn needs_period(self) -> bool {
        matches!(self, Pattern::Spread | Pattern::RandomNearest)
    }
}

/// One task graph: Task Bench's `task_graph_t` (one per `-and`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphSpec {
    /// Index among the app's graphs (0, 1, … in `-and` order).
    pub graph_index: i64,
    /// `-steps`: the graph's height.
    pub timesteps: i64,
    /// `-width`: the most points at one timestep.
    pub max_width: i64,
    /// `-type`.
    pub dependence: Pattern,
    /// `-radix` (nearest, spread, random_nearest).
    pub radix: i64,
    /// `-period` (spread, random_nearest); 0 elsewhere.
    pub period: i64,
    /// `-fraction` (random_nearest).
    pub fraction_connected: f64,
    /// `-kernel`, `-iter`, `-sample`, `-imbalance`.
    pub kernel: KernelSpec,
    /// `-output`: bytes each task produces (at least 16).
    pub output_bytes: i64,
    /// `-scratch`: bytes of scratch memory per task.
    pub scratch_bytes: i64,
    /// `-field` (an optimisation hint of some Task Bench ports; shown, not used).
    pub nb_fields: i64,
}

impl GraphSpec {
    /// Task Bench's `default_graph(graph_index)`, with the period still to be resolved.
    pub fn new(graph_index: i64) -> GraphSpec {
        GraphSpec {
            graph_index,
            timesteps: 4,
            max_width: 4,
            dependence: Pattern::Trivial,
            radix: 3,
            period: -1,
            fraction_connected: 0.25,
            kernel: KernelSpec::default(),
            output_bytes: 16,
            scratch_bytes: 0,
            nb_fields: 0,
        }
    }

    /// Fills in the defaults Task Bench fills in after parsing: the period (3 for the
    /// patterns that need one, else 0) and `nb_fields` (the timesteps).
    pub fn resolve_defaults(&mut self) {
        if self.period < 0 {
            self.period = if self.dependence.needs_period() { 3 } else { 0 };
        }
        if self.nb_fields == 0 {
            self.nb_fields = self.timesteps;
        }
    }

    /// First point that exists at `timestep` (0 before the first timestep).
    pub fn offset_at_timestep(&self, timestep: i64) -> i64 {
        if timestep < 0 {
            return 0;
        }
        match self.dependence {
            Pattern::Dom => 0.max(timestep + self.max_width - self.timesteps),
            _ => 0,
        }
    }

    /// Number of points at `timestep` (0 before the first timestep).
    pub fn width_at_timestep(&self, timestep: i64) -> i64 {
        if timestep < 0 {
            return 0;
        }
        match self.dependence {
            Pattern::Dom => self
                .max_width
                .min((timestep + 1).min(self.timesteps - timestep)),
            Pattern::Tree => self.max_width.min(1i64 << timestep.min(62)),
            _ => self.max_width,
        }
    }

    /// Number of distinct dependence sets the pattern cycles through.
    pub fn max_dependence_sets(&self) -> i64 {
        match self.dependence {
            // ceil(log2(max_width))
            Pattern::Fft => i64::from(64 - ((self.max_width - 1) as u64).leading_zeros()),
            Pattern::Spread | Pattern::RandomNearest => self.period,
            _ => 1,
        }
    }

    /// The dependence set used at `timestep`.
    pub fn dependence_set_at_timestep(&self, timestep: i64) -> i64 {
        match self.dependence {
            Pattern::Fft => {
                let n = self.max_dependence_sets();
                (timestep + n - 1) % n
            }
            Pattern::Spread | Pattern::RandomNearest => timestep % self.max_dependence_sets(),
            _ => 0,
        }
    }

    /// The points of the previous timestep that `point` depends on in set `dset`, as
    /// inclusive intervals (not yet clipped to the points that exist).
    pub fn dependencies(&self, dset: i64, point: i64) -> Vec<(i64, i64)> {
        let w = self.max_width;
        let r = self.radix;
        match self.dependence {
            Pattern::Trivial => vec![],
            Pattern::NoComm => vec![(point, point)],
            Pattern::Stencil1d => vec![(0.max(point - 1), (point + 1).min(w - 1))],
            Pattern::Stencil1dPeriodic => {
                let mut d = vec![(0.max(point - 1), (point + 1).min(w - 1))];
                if point - 1 < 0 {
                    d.push((w - 1, w - 1));
                }
                if point + 1 >= w {
                    d.push((0, 0));
                }
                d
            }
            Pattern::Dom => vec![(0.max(point - 1), point)],
            Pattern::Tree => vec![(point / 2, point / 2)],
            Pattern::Fft => self.butterfly(dset, point),
            Pattern::AllToAll => vec![(0, w - 1)],
            Pattern::Nearest if r > 0 => {
                vec![(0.max(point - r / 2), (point + (r - 1) / 2).min(w - 1))]
            }
            Pattern::Nearest => vec![],
            Pattern::Spread => (0..r)
                .map(|i| {
                    let dep = (point + i * w / r + if i > 0 { dset } else { 0 }) % w;
                    (dep, dep)
                })
                .collect(),
            Pattern::RandomNearest => self.random_runs(
                dset,
                point,
                0.max(point - r / 2),
                (point + (r - 1) / 2).min(w - 1),
                false,
            ),
        }
    }

    /// The points of the next timestep that depend on `point` in set `dset` (the mirror of
    /// `dependencies`).
    pub fn reverse_dependencies(&self, dset: i64, point: i64) -> Vec<(i64, i64)> {
        let w = self.max_width;
        let r = self.radix;
        match self.dependence {
            Pattern::Dom => vec![(point, (w - 1).min(point + 1))],
            Pattern::Tree => {
                let (c1, c2) = (point * 2, point * 2 + 1);
                if c1 < w && c2 < w {
                    vec![(c1, c2)]
                } else if c1 < w {
                    vec![(c1, c1)]
                } else {
                    vec![]
                }
            }
            Pattern::Nearest if r > 0 => {
                vec![(0.max(point - (r - 1) / 2), (point + r / 2).min(w - 1))]
            }
            Pattern::Spread => (0..r)
                .map(|i| {
                    let mut dep = (point - i * w / r - if i > 0 { dset } else { 0 }) % w;
                    if dep < 0 {
                        dep += w;
                    }
                    (dep, dep)
                })
                .collect(),
            Pattern::RandomNearest => self.random_runs(
                dset,
                point,
                0.max(point - (r - 1) / 2),
                (point + r / 2).min(w - 1),
                true,
            ),
            // The other patterns are symmetric.
            _ => self.dependencies(dset, point),
        }
    }

    fn butterfly(&self, dset: i64, point: i64) -> Vec<(i64, i64)> {
        let mut d = Vec::with_capacity(3);
        let (d1, d2) = (point - (1i64 << dset), point + (1i64 << dset));
        if d1 >= 0 {
            d.push((d1, d1));
        }
        d.push((point, point));
        if d2 < self.max_width {
            d.push((d2, d2));
        }
        d
    }

    /// Runs of connected neighbours in `first..=last` (random_nearest); the hash key is
    /// (graph, radix, dset, producer, consumer) in both directions.
    fn random_runs(
        &self,
        dset: i64,
        point: i64,
        first: i64,
        last: i64,
        reverse: bool,
    ) -> Vec<(i64, i64)> {
        let mut runs = Vec::new();
        let mut run_start = -1;
        let mut i = first;
        while i <= last {
            let key = if reverse {
                [self.graph_index, self.radix, dset, point, i]
            } else {
                [self.graph_index, self.radix, dset, i, point]
            };
            let include =
                random_uniform(&key) < self.fraction_connected || (self.radix > 0 && i == point);
            if include {
                if run_start < 0 {
                    run_start = i;
                }
            } else {
                if run_start >= 0 {
                    runs.push((run_start, i - 1));
                }
                run_start = -1;
            }
            i += 1;
        }
        if run_start >= 0 {
            runs.push((run_start, i - 1));
        }
        runs
    }

    /// The producers of the task at (`timestep`, `point`), in the order Task Bench hands
    /// them to the task: each interval in turn, ascending, keeping only points that exist
    /// at the previous timestep.
    pub fn inputs(&self, timestep: i64, point: i64) -> Vec<i64> {
        let last_offset = self.offset_at_timestep(timestep - 1);
        let last_width = self.width_at_timestep(timestep - 1);
        let dset = self.dependence_set_at_timestep(timestep);
        self.dependencies(dset, point)
            .into_iter()
            .flat_map(|(a, b)| a..=b)
            .filter(|&d| last_offset <= d && d < last_offset + last_width)
            .collect()
    }

    /// The most inputs a task of this graph can have (each interval of `dependencies`,
    /// clipped to the width).
    pub fn max_inputs(&self) -> u64 {
        let r = self.radix.max(0) as u64;
        let per_pattern = match self.dependence {
            Pattern::Trivial => 0,
            Pattern::NoComm | Pattern::Tree => 1,
            Pattern::Dom => 2,
            Pattern::Stencil1d | Pattern::Stencil1dPeriodic | Pattern::Fft => 3,
            Pattern::AllToAll => u64::MAX,
            Pattern::Nearest | Pattern::Spread | Pattern::RandomNearest => r,
        };
        per_pattern.min(self.max_width.max(0) as u64)
    }

    /// The graph's size from its parameters alone: at most steps × width tasks, each with at
    /// most [`max_inputs`](Self::max_inputs) edges.
    pub fn footprint(&self) -> Footprint {
        let width = self.max_width.max(0) as u64;
        Footprint::uniform(
            (self.timesteps.max(0) as u64).checked_mul(width),
            self.max_inputs(),
        )
    }

    /// Why this graph cannot run where nodes have `memory` bytes (`None`: unknown), and the
    /// flag (without its dash) to change: a graph rank 0 cannot hold (`width` when one
    /// timestep alone is too much, else `steps`), a `scratch` buffer or an `output` (rank 0
    /// gathers the last timestep's, width × output bytes) larger than the node. Decided from
    /// the parameters, before [`check`](Self::check) visits every point.
    pub fn size_problem(&self, memory: Option<u64>) -> Option<(&'static str, String)> {
        let width = self.max_width.max(0) as u64;
        let one_step = Footprint::uniform(Some(width), self.max_inputs());
        if let Some(why) = one_step.problem(memory) {
            return Some(("width", why));
        }
        if let Some(why) = self.footprint().problem(memory) {
            return Some(("steps", why));
        }
        let m = memory?;
        let scratch = self.scratch_bytes.max(0) as u64;
        if scratch > m {
            return Some((
                "scratch",
                format!(
                    "{scratch} bytes of scratch memory per worker thread, more than this node's \
                     memory of {}",
                    human_bytes(m)
                ),
            ));
        }
        let out = (self.output_bytes.max(0) as u64).checked_mul(width);
        if out.is_none_or(|b| b > m) {
            return Some((
                "output",
                format!(
                    "{} points of {} bytes: the output rank 0 gathers would need more than this \
                     node's memory of {}",
                    width,
                    self.output_bytes,
                    human_bytes(m)
                ),
            ));
        }
        None
    }

    /// Task Bench's `App::check` for this graph, plus the conditions under which Task Bench
    /// would crash (divide by zero, failed assertion) rather than report: the message says
    /// what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let name = self.dependence.name();
        if self.dependence.needs_period() && self.period == 0 {
            return Err(format!(
                "Graph type \"{name}\" requires a non-zero period (specify with -period)"
            ));
        }
        if !self.dependence.needs_period() && self.period != 0 {
            return Err(format!(
                "Graph type \"{name}\" does not support user-configurable period"
            ));
        }
        // Task Bench's check divides the width by the radix; its -O3 build traps on -radix 0
        // for the patterns with a period (for the others the unused quotient is dropped).
        if self.dependence.needs_period() && self.radix == 0 {
            return Err(format!("Graph type \"{name}\" requires -radix > 0"));
        }
        if self.dependence == Pattern::Spread {
            let spread = (self.max_width + self.radix - 1) / self.radix;
            if self.period > spread {
                return Err(format!(
                    "Graph type \"{name}\" requires a period that is at most {spread}"
                ));
            }
        }
        if self.dependence == Pattern::Fft && self.max_width < 2 {
            return Err(format!("Graph type \"{name}\" requires -width >= 2"));
        }
        if self.output_bytes < 16 {
            return Err(format!(
                "Invalid flag \"-output {}\" must be >= 16",
                self.output_bytes
            ));
        }
        if self.kernel.kind == super::KernelKind::MemoryBound {
            if self.scratch_bytes <= 0 || self.scratch_bytes % 8 != 0 {
                return Err(format!(
                    "Kernel \"memory_bound\" requires -scratch > 0 and a multiple of 8 (got {})",
                    self.scratch_bytes
                ));
            }
            if self.kernel.samples <= 0 {
                return Err("Kernel \"memory_bound\" requires -sample > 0".into());
            }
        }
        if self.dependence == Pattern::Tree && self.max_width > 1 << 40 {
            return Err("Graph type \"tree\" supports -width up to 2^40".into());
        }
        for dset in 0..self.max_dependence_sets() {
            let mut deps: Vec<Vec<i64>> = Vec::with_capacity(self.max_width as usize);
            for point in 0..self.max_width {
                let mut mine: Vec<i64> = self
                    .dependencies(dset, point)
                    .into_iter()
                    .flat_map(|(a, b)| a..=b)
                    .collect();
                mine.sort_unstable();
                if let Some(w) = mine.windows(2).find(|w| w[0] == w[1]) {
                    return Err(format!(
                        "Graph type \"{name}\" with -width {}: point {point} would depend on \
                         point {} twice",
                        self.max_width, w[0]
                    ));
                }
                deps.push(mine);
            }
            for point in 0..self.max_width {
                for (a, b) in self.reverse_dependencies(dset, point) {
                    for rdp in a..=b {
                        if deps[rdp as usize].binary_search(&point).is_err() {
                            return Err(format!(
                                "Graph type \"{name}\": reverse dependencies of point {point} \
                                 do not mirror the dependencies"
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// (tasks, dependencies) of the graph, counted the way Task Bench's `report_timing`
    /// counts them.
    pub fn counts(&self) -> (i64, i64) {
        let mut tasks = 0;
        let mut deps = 0;
        for t in 0..self.timesteps {
            let offset = self.offset_at_timestep(t);
            let width = self.width_at_timestep(t);
            tasks += width;
            for p in offset..offset + width {
                deps += self.inputs(t, p).len() as i64;
            }
        }
        (tasks, deps)
    }

    /// Total FLOPs and bytes Task Bench counts for the graph.
    pub fn work(&self) -> (i64, i64) {
        let mut flops = 0;
        let mut bytes = 0;
        for t in 0..self.timesteps {
            let offset = self.offset_at_timestep(t);
            for p in offset..offset + self.width_at_timestep(t) {
                flops += self.kernel.flops(self.graph_index, t, p);
                bytes += self.kernel.bytes(self.scratch_bytes);
            }
        }
        (flops, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_judged_from_the_parameters() {
        let gib = Some(1u64 << 30);
        let mut s = GraphSpec::new(0);
        s.dependence = Pattern::Stencil1d;
        assert_eq!(s.size_problem(gib), None);
        s.max_width = 1_000_000_000_000;
        assert_eq!(s.size_problem(None).map(|p| p.0), Some("width"));
        s.max_width = 1000;
        s.timesteps = 1_000_000_000_000;
        assert_eq!(s.size_problem(None).map(|p| p.0), Some("steps"));
        // All-to-all: width edges a task, so a width rank 0 cannot hold for one step.
        s.timesteps = 4;
        s.dependence = Pattern::AllToAll;
        s.max_width = 1 << 20;
        assert_eq!(s.max_inputs(), 1 << 20);
        assert_eq!(s.size_problem(gib).map(|p| p.0), Some("width"));
        s.dependence = Pattern::Trivial;
        s.max_width = 4;
        s.scratch_bytes = 1 << 40;
        assert_eq!(s.size_problem(gib).map(|p| p.0), Some("scratch"));
        s.scratch_bytes = 0;
        s.output_bytes = 1 << 29;
        assert_eq!(s.size_problem(gib).map(|p| p.0), Some("output"));
    }
}
