//! Coordinated checkpoints during a run, driven by the main thread of every rank.
//!
//! Every `interval` seconds (or as soon as its own share is done) each rank enters the same
//! sequence of collectives:
//!
//! 1. *Agree*: an all-reduce of "my share is done"; when every rank is done the run is over.
//!    Then rank 0 *claims* the checkpoint's folder (`store::checkpoint::claim`: the next
//!    number above every `ckpt-*` folder and above its own last, created with `create_dir`,
//!    so another job sharing the folder can never take the same number) and broadcasts the
//!    number; no other rank creates it. If none can be claimed, every rank skips this
//!    checkpoint.
//! 2. *Pause*: each rank stops starting tasks and waits for its running tasks, and the steal
//!    messages being handled, to end; from then on it sends nothing (steal messages and its
//!    own `OwnDone` wait for step 5; values that arrive are stored).
//! 3. *Quiesce*: waves of all-reduces of the messages (values and steal messages) queued for
//!    sending and of those received, summed over the ranks separately, until one wave finds
//!    the two totals equal and both unchanged from the wave before (the four-counter method:
//!    a single wave can add up to zero while a message is in flight, since the ranks read
//!    their counters at different moments). No message is then in flight, so every value a
//!    later task needs is in some rank's slots. Finished tasks plus held values now form a
//!    consistent cut of the graph.
//! 4. *Write*: each rank writes its file (temp file, fsync, rename) into the claimed folder
//!    (which must be on a filesystem every node shares); an all-reduce tells
//!    whether all succeeded; rank 0 gathers the files' checksums and writes the manifest, the
//!    commit point, then removes this job's checkpoints (by fingerprint: the folder may be
//!    shared with other jobs) but this and the previous one (for a resumed run, at first the
//!    one it resumed from). A failed write (a full disk) leaves the previous checkpoint as
//!    it was, and rank 0 removes the folder it claimed.
//! 5. *Resume*: tasks start again.
//!
//! A rank that dies at any point leaves at worst a folder without a manifest, never used;
//! an empty one, claimed and not yet written, is never pruned by another job.

use crate::sched::Executor;
use crate::store::checkpoint::{self, Manifest, ManifestFile, RankFileMeta};
use crate::transport::TransferStats;
use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Checkpoint settings every rank knows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointSettings {
    /// Folder holding the `ckpt-NNNNNN` folders.
    pub dir: PathBuf,
    /// Seconds between checkpoints.
    pub interval: f64,
    /// The graph's fingerprint.
    pub fingerprint: String,
    /// The checkpoint a resumed run started from: it counts as the previous one until this
    /// run has committed two of its own.
    pub resumed_from: Option<u64>,
}

/// What checkpointing cost this rank.
#[derive(Clone, Debug, Default)]
pub struct CheckpointStats {
    /// Checkpoints committed.
    pub taken: u64,
    /// Seconds spent in steps 2-5, all checkpoints together.
    pub seconds: f64,
}

/// The claim broadcast's "no folder": every rank skips the checkpoint.
const NO_FOLDER: u64 = u64::MAX;

fn all_min(world: &SimpleCommunicator, x: i64) -> i64 {
    let mut out = 0i64;
    world.all_reduce_into(&x, &mut out, SystemOperation::min());
    out
}

fn all_sum(world: &SimpleCommunicator, x: i64) -> i64 {
    let mut out = 0i64;
    world.all_reduce_into(&x, &mut out, SystemOperation::sum());
    out
}

/// The quiesce step's test: the wave `now` (messages queued, received: totals over the
/// ranks) shows nothing in flight when its totals are equal and unchanged from the wave
/// before (`last`). Counters only grow, so no message was sent or received between the two
/// waves, and every one sent before the first was received by the second.
fn quiet(last: Option<(u64, u64)>, now: (u64, u64)) -> bool {
    now.0 == now.1 && last == Some(now)
}

/// Runs the checkpoint loop until every rank's share is done (or this rank's failed, which
/// the caller then reports). `prior_finished` (rank 0) lists tasks finished before a resume.
pub fn drive(
    world: &SimpleCommunicator,
    exec: &Executor,
    stats: &TransferStats,
    ck: &CheckpointSettings,
    prior_finished: &[u32],
) -> CheckpointStats {
    let rank = world.rank() as u32;
    let ranks = world.size() as u32;
    let interval = Duration::from_secs_f64(ck.interval);
    // The lowest number the next claim may take: numbers only grow within a run, also past
    // an abandoned checkpoint whose folder was removed.
    let mut floor = 1;
    let mut out = CheckpointStats::default();
    let mut previous: Option<u64> = ck.resumed_from;
    let mut next = Instant::now() + interval;
    loop {
        let done = exec.wait(Some(next.saturating_duration_since(Instant::now())));
        if done && exec.failed() {
            return out; // the caller reports the failure and aborts every rank
        }
        if !done && Instant::now() < next {
            continue;
        }
        // 1. Agree.
        if all_min(world, i64::from(done)) == 1 {
            return out;
        }
        let t = Instant::now();
        // 1b. Claim (rank 0) and broadcast the number; NO_FOLDER if none could be claimed.
        let mut seq = NO_FOLDER;
        if rank == 0 {
            match checkpoint::claim(&ck.dir, floor) {
                Ok(s) => seq = s,
                Err(e) => tracing::warn!("checkpoint skipped: {e}"),
            }
        }
        world.process_at_rank(0).broadcast_into(&mut seq);
        if seq == NO_FOLDER {
            out.seconds += t.elapsed().as_secs_f64();
            next = Instant::now() + interval;
            continue;
        }
        floor = seq + 1;
        // 2. Pause.
        exec.pause();
        // 3. Quiesce.
        let mut last = None;
        loop {
            let (queued, received) = stats.message_counts();
            let mut sums = [0u64; 2];
            world.all_reduce_into(
                &[queued, received][..],
                &mut sums[..],
                SystemOperation::sum(),
            );
            let wave = (sums[0], sums[1]);
            if quiet(last, wave) {
                break;
            }
            last = Some(wave);
            std::thread::sleep(Duration::from_micros(200));
        }
        // 4. Write.
        let snap = exec.snapshot();
        let mut finished = snap.finished;
        if rank == 0 {
            finished.extend_from_slice(prior_finished);
        }
        let dir = checkpoint::checkpoint_dir(&ck.dir, seq);
        let path = dir.join(checkpoint::rank_file_name(rank));
        let meta = RankFileMeta {
            fingerprint: &ck.fingerprint,
            seq,
            rank,
            ranks,
        };
        // Rank 0 created the folder; a rank that cannot see it is on a node that does not
        // share the filesystem (creating one of its own would commit files rank 0 cannot read).
        let written = if dir.is_dir() {
            checkpoint::write_rank_file(&path, &meta, &finished, &snap.values)
                .map_err(|e| e.to_string())
        } else {
            Err(format!(
                "{} (claimed by rank 0) is not visible on this rank's node: --checkpoint-dir \
                 must be on a filesystem every node shares",
                dir.display()
            ))
        };
        if let Err(e) = &written {
            tracing::warn!("checkpoint {seq}: cannot write {}: {e}", path.display());
        }
        let ok = all_min(world, i64::from(written.is_ok())) == 1;
        let (hash, bytes) = written.unwrap_or((0, 0));
        let total_finished = all_sum(world, finished.len() as i64) as u64;
        let mine = [hash, bytes];
        let root = world.process_at_rank(0);
        if rank == 0 {
            let mut all = vec![0u64; 2 * ranks as usize];
            root.gather_into_root(&mine[..], &mut all[..]);
            if ok {
                let m = Manifest {
                    dirk_checkpoint: 1,
                    seq,
                    fingerprint: ck.fingerprint.clone(),
                    ranks,
                    finished_tasks: total_finished,
                    files: all
                        .chunks(2)
                        .enumerate()
                        .map(|(r, c)| ManifestFile {
                            rank: r as u32,
                            file: checkpoint::rank_file_name(r as u32),
                            bytes: c[1],
                            xxh3: format!("{:016x}", c[0]),
                        })
                        .collect(),
                };
                match checkpoint::write_manifest(&dir, &m) {
                    Ok(()) => {
                        let size: u64 = all.chunks(2).map(|c| c[1]).sum();
                        tracing::info!(
                            "checkpoint {seq}: {} tasks finished, {:.1} MiB in {} ({:.2} s)",
                            total_finished,
                            size as f64 / (1 << 20) as f64,
                            dir.display(),
                            t.elapsed().as_secs_f64()
                        );
                        let keep: Vec<u64> = std::iter::once(seq).chain(previous).collect();
                        checkpoint::prune(&ck.dir, &ck.fingerprint, &keep);
                        previous = Some(seq);
                        out.taken += 1;
                    }
                    Err(e) => tracing::warn!("checkpoint {seq}: cannot write the manifest: {e}; the previous checkpoint stays in use"),
                }
            } else {
                tracing::warn!("checkpoint {seq} abandoned (a rank could not write its file); the previous checkpoint stays in use");
                let _ = std::fs::remove_dir_all(&dir);
            }
        } else {
            root.gather_into(&mine[..]);
        }
        // 5. Resume.
        exec.resume();
        out.seconds += t.elapsed().as_secs_f64();
        next = Instant::now() + interval;
    }
}

#[cfg(test)]
mod tests {
    use super::quiet;

    #[test]
    fn quiesce_needs_two_equal_waves() {
        // One wave whose totals match is not enough: a rank may have read its counters
        // before a message it later sent, another after receiving one.
        assert!(!quiet(None, (10, 10)));
        // Matching totals that moved since the last wave: messages went meanwhile.
        assert!(!quiet(Some((8, 8)), (10, 10)));
        assert!(!quiet(Some((10, 9)), (10, 10)));
        // Still in flight.
        assert!(!quiet(Some((11, 10)), (11, 10)));
        assert!(quiet(Some((10, 10)), (10, 10)));
    }
}
