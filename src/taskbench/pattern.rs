//! Task Bench's task graphs: which points exist at each timestep, and which points of the
//! previous timestep each task depends on. A faithful transcription of `TaskGraph` in Task
//! Bench's `core/core.cc` (offset_at_timestep, width_at_timestep, max_dependence_sets,
//! dependence_set_at_timestep, dependencies, reverse_dependencies, and `App::check`), in C
//! `long` arithmetic. Intervals are inclusive `(first, last)` pairs, as in Task Bench.

use super::hash::random_uniform;
use super::kernel::KernelSpec;
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
