//! How a run starts on every rank: rank 0 broadcasts the settings (or a rejection), gathers
//! what each rank offers, plans, and scatters each rank its own share of the plan. A rejection
//! at either step makes every rank return, so a bad job never leaves ranks waiting.

use super::checkpoint::CheckpointSettings;
use crate::graph::Graph;
use crate::plan::{self, LocalPlan, PlanError, RankInfo, Resume};
use mpi::datatype::Partition;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use serde::{Deserialize, Serialize};

/// Run settings every rank must know; rank 0 decides them (command line over job options).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Worker threads per rank (`None`: the cores this rank may use).
    pub threads: Option<usize>,
    /// Collect per-task events for `--trace`.
    pub trace: bool,
    /// Take checkpoints (`--checkpoint-dir` with `--checkpoint-interval`).
    pub checkpoint: Option<CheckpointSettings>,
    /// Failure-detector timeout in seconds, when the job sets one.
    pub peer_timeout: Option<f64>,
    /// Use a GPU where a rank finds one (`--gpus auto`); false is `--gpus none`.
    #[serde(default)]
    pub gpus: bool,
    /// Let idle ranks steal ready tasks from loaded ones (`--steal on`).
    #[serde(default)]
    pub steal: bool,
    /// Costs measured by an earlier run (`--calibration FILE`), to seed the cost model.
    #[serde(default)]
    pub calibration: Option<crate::plan::learn::Calibration>,
}

#[derive(Serialize, Deserialize)]
enum Preamble {
    Go(Settings),
    Reject,
}

/// Broadcasts `bytes` from rank 0 (length first); returns them on every rank.
fn broadcast_bytes(world: &SimpleCommunicator, bytes: Option<Vec<u8>>) -> Vec<u8> {
    let root = world.process_at_rank(0);
    let mut len = bytes.as_ref().map_or(0u64, |b| b.len() as u64);
    root.broadcast_into(&mut len);
    let mut buf = bytes.unwrap_or_else(|| vec![0u8; len as usize]);
    root.broadcast_into(&mut buf[..]);
    buf
}

/// Step 1: rank 0 says go (with settings) or reject; every rank learns which.
pub(super) fn share_settings(
    world: &SimpleCommunicator,
    rank0: Option<Option<&Settings>>,
) -> Option<Settings> {
    let msg = rank0.map(|s| {
        let p = match s {
            Some(s) => Preamble::Go(s.clone()),
            None => Preamble::Reject,
        };
        postcard::to_allocvec(&p).expect("settings encode")
    });
    let bytes = broadcast_bytes(world, msg);
    match postcard::from_bytes(&bytes).expect("settings decode") {
        Preamble::Go(s) => Some(s),
        Preamble::Reject => None,
    }
}

/// Bytes of a rank's answer in `agree_on_kernels` (a longer sentence is cut).
const KERNEL_DIFF_BYTES: usize = 512;

/// Step 1b: every rank compares its kernel table (`registry::global`) with rank 0's, which
/// rank 0 broadcasts; rank 0 gathers the answers. `Err(Some(why))` on rank 0 and `Err(None)`
/// elsewhere when some rank differs (why names the first such rank and its kernel): a rank
/// built from another application would otherwise fail to read its plan, or compute
/// something else.
pub(super) fn agree_on_kernels(world: &SimpleCommunicator) -> Result<(), Option<String>> {
    crate::registry::set_rank(world.rank());
    // Rank 0 loaded the job's plugins with the job; the others load the same files now.
    let plugins = broadcast_bytes(
        world,
        (world.rank() == 0).then(|| {
            postcard::to_allocvec(&crate::registry::loaded_plugins()).expect("plugins encode")
        }),
    );
    let plugins: Vec<(String, String)> = postcard::from_bytes(&plugins).expect("plugins decode");
    let mut load_error = None;
    if world.rank() != 0 {
        for (path, sha) in &plugins {
            if let Err(e) = crate::registry::load_plugin(std::path::Path::new(path), sha) {
                load_error.get_or_insert(format!("rank {}: {e}", world.rank()));
            }
        }
    }
    let mine = crate::registry::describe_all();
    let root_bytes = broadcast_bytes(
        world,
        (world.rank() == 0).then(|| postcard::to_allocvec(&mine).expect("table encode")),
    );
    let root: Vec<(String, String)> = postcard::from_bytes(&root_bytes).expect("table decode");
    let diff = load_error
        .or_else(|| crate::registry::difference(&root, &mine, world.rank() as u32))
        .unwrap_or_default();
    let mut answer = [0u8; KERNEL_DIFF_BYTES];
    let mut n = diff.len().min(KERNEL_DIFF_BYTES);
    while !diff.is_char_boundary(n) {
        n -= 1;
    }
    answer[..n].copy_from_slice(&diff.as_bytes()[..n]);
    let root_proc = world.process_at_rank(0);
    let mut verdict: u32 = 0;
    let mut why = None;
    if world.rank() == 0 {
        let mut all = vec![0u8; KERNEL_DIFF_BYTES * world.size() as usize];
        root_proc.gather_into_root(&answer[..], &mut all[..]);
        why = all.chunks(KERNEL_DIFF_BYTES).find(|a| a[0] != 0).map(|a| {
            let end = a.iter().position(|&b| b == 0).unwrap_or(a.len());
            String::from_utf8_lossy(&a[..end]).into_owned()
        });
        verdict = u32::from(why.is_some());
    } else {
        root_proc.gather_into(&answer[..]);
    }
    root_proc.broadcast_into(&mut verdict);
    if verdict == 0 {
        Ok(())
    } else {
        Err(why.map(|w| {
            format!("the ranks' kernel tables differ: {w} (start every rank from the same program)")
        }))
    }
}

/// Step 2: rank 0 gathers every rank's threads and GPUs.
pub(super) fn gather_ranks(world: &SimpleCommunicator, me: RankInfo) -> Option<Vec<RankInfo>> {
    let root = world.process_at_rank(0);
    let mine = [me.threads, me.gpus];
    if world.rank() == 0 {
        let mut all = vec![0u32; 2 * world.size() as usize];
        root.gather_into_root(&mine[..], &mut all[..]);
        Some(
            all.chunks(2)
                .map(|c| RankInfo {
                    threads: c[0],
                    gpus: c[1],
                })
                .collect(),
        )
    } else {
        root.gather_into(&mine[..]);
        None
    }
}

/// Outcome of step 3 on one rank.
pub(super) enum Distributed {
    /// This rank's share.
    Plan(LocalPlan),
    /// Rank 0 could not plan (its error on rank 0, `None` elsewhere).
    Rejected(Option<PlanError>),
}

/// A value's message tag is its producer's index, so the graph's last index must be a tag
/// this MPI library allows.
fn within_tags(g: &Graph, max_tag: u32) -> Result<(), PlanError> {
    match g.tasks().get(max_tag as usize + 1) {
        None => Ok(()),
        Some(t) => Err(PlanError::task(
            &t.id,
            format!(
                "the graph has {} tasks, and this MPI library's message tags (MPI_TAG_UB = \
                 {max_tag}) number at most {}: a value's tag is its task's index",
                g.len(),
                u64::from(max_tag) + 1
            ),
        )),
    }
}

/// What rank 0 scatters: its own share as it is, the others' encoded, with the counts and
/// displacements MPI_Scatterv takes. Rank 0's part is one placeholder byte (MPI rejects
/// empty buffers here).
struct Shares {
    mine: LocalPlan,
    flat: Vec<u8>,
    counts: Vec<i32>,
    displs: Vec<i32>,
}

/// Encodes the shares; MPI counts them in `int`s, so all of them together must stay under
/// 2 GiB (a graph of some tens of millions of tasks), else the job is refused before
/// anything is sent.
fn encode_shares(mut plans: Vec<LocalPlan>) -> Result<Shares, PlanError> {
    let mine = plans.remove(0);
    let encoded: Vec<Vec<u8>> = std::iter::once(vec![0u8])
        .chain(plans.iter().map(plan::encode))
        .collect();
    drop(plans);
    let total: usize = encoded.iter().map(Vec::len).sum();
    let too_large = || PlanError {
        task: String::new(),
        why: format!(
            "the ranks' plans take {total} bytes together, more than the 2 GiB one \
             MPI_Scatterv can send: split the job or use fewer ranks"
        ),
    };
    let mut counts = Vec::with_capacity(encoded.len());
    let mut displs = Vec::with_capacity(encoded.len());
    let mut at: i32 = 0;
    for b in &encoded {
        let n = i32::try_from(b.len()).map_err(|_| too_large())?;
        displs.push(at);
        counts.push(n);
        at = at.checked_add(n).ok_or_else(too_large)?;
    }
    Ok(Shares {
        mine,
        flat: encoded.concat(),
        counts,
        displs,
    })
}

/// Step 3: rank 0 plans `graph` for `ranks` and scatters the shares (MPI_Scatterv).
pub(super) fn distribute(
    world: &SimpleCommunicator,
    job: Option<(&Graph, &[RankInfo], Option<&Resume>)>,
) -> Distributed {
    let root = world.process_at_rank(0);
    let max_tag = crate::transport::mpi::max_tag(world);
    let planned = job.map(|(g, ranks, resume)| {
        within_tags(g, max_tag)?;
        let plans = plan::plan_resumed(g, ranks, resume)?;
        let t = std::time::Instant::now();
        let shares = encode_shares(plans);
        crate::trace::record_phase("encode", t);
        shares
    });
    let t_scatter = std::time::Instant::now();
    let mut status: u32 = match &planned {
        Some(Err(_)) => 2,
        _ => 0,
    };
    root.broadcast_into(&mut status);
    if status != 0 {
        return Distributed::Rejected(planned.and_then(|p| p.err()));
    }
    let mut my_len: i32 = 0;
    match planned {
        Some(Ok(shares)) => {
            root.scatter_into_root(&shares.counts[..], &mut my_len);
            let mut placeholder = [0u8; 1];
            root.scatter_varcount_into_root(
                &Partition::new(&shares.flat[..], &shares.counts[..], &shares.displs[..]),
                &mut placeholder[..],
            );
            crate::trace::record_phase("scatter", t_scatter);
            Distributed::Plan(shares.mine)
        }
        _ => {
            root.scatter_into(&mut my_len);
            let mut bytes = vec![0u8; my_len as usize];
            root.scatter_varcount_into(&mut bytes[..]);
            Distributed::Plan(plan::decode(&bytes).expect("rank 0 encoded this plan"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Arg, DType, Op};

    /// A graph of `n` independent small `fill` tasks.
    fn fills(n: usize) -> Graph {
        let mut g = Graph::new();
        for _ in 0..n {
            let op = Op::new(crate::kernels::Fill { dtype: DType::F64 });
            g.spawn(op, [Arg::Shape(vec![2]), Arg::Number(1.0)])
                .unwrap();
        }
        g
    }

    #[test]
    fn a_graph_past_the_tag_limit_is_rejected_naming_the_first_task_beyond_it() {
        let g = fills(5);
        assert!(within_tags(&g, 4).is_ok(), "tags 0..=4 name 5 tasks");
        let e = within_tags(&g, 3).unwrap_err();
        assert_eq!(e.task, g.tasks()[4].id);
        assert!(e.why.contains("MPI_TAG_UB = 3"), "{}", e.why);
    }

    #[test]
    fn shares_are_laid_out_one_after_another_and_rank_0_keeps_its_own() {
        let g = fills(6);
        let ranks = vec![
            RankInfo {
                threads: 1,
                gpus: 0
            };
            3
        ];
        let plans = plan::plan(&g, &ranks).unwrap();
        let want: Vec<Vec<u8>> = plans[1..].iter().map(plan::encode).collect();
        let s = encode_shares(plans.clone()).unwrap();
        assert_eq!(s.mine, plans[0]);
        assert_eq!(s.counts[0], 1, "rank 0's placeholder byte");
        for (r, w) in want.iter().enumerate() {
            let (at, n) = (s.displs[r + 1] as usize, s.counts[r + 1] as usize);
            assert_eq!(&s.flat[at..at + n], &w[..], "rank {}'s share", r + 1);
        }
    }
}
