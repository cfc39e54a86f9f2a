//! Coordinated checkpoints during a run, driven by the main thread of every rank.
//!
//! Every `interval` seconds (rank 0's clock) the run loop (`runtime::drive`) has every rank
//! enter the same sequence of collectives:
//!
//! 1. *Agree*: the run loop's all-reduce says whether every rank is done (the run is over) and
//!    whether a checkpoint is due. Then rank 0 *claims* the checkpoint's folder (`store::checkpoint::claim`: the next
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

/// Where a run's checkpoints stand on this rank (`take` advances it).
pub struct Checkpointing<'a> {
    ck: &'a CheckpointSettings,
    /// Tasks finished before a resume (rank 0 lists them; elsewhere empty).
    prior_finished: &'a [u32],
    /// The lowest number the next claim may take: numbers only grow within a run, also past
    /// an abandoned checkpoint whose folder was removed.
    floor: u64,
    /// The last committed checkpoint (at first the one a resumed run started from).
    previous: Option<u64>,
    /// What checkpointing has cost so far.
    pub stats: CheckpointStats,
}

impl<'a> Checkpointing<'a> {
    /// Before the first checkpoint of a run.
    pub fn new(ck: &'a CheckpointSettings, prior_finished: &'a [u32]) -> Checkpointing<'a> {
        Checkpointing {
            ck,
            prior_finished,
            floor: 1,
            previous: ck.resumed_from,
            stats: CheckpointStats::default(),
        }
    }

    /// Seconds between checkpoints.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.ck.interval)
    }

    /// Steps 1b-5: takes one checkpoint; every rank calls it at the same point (after the
    /// run loop's agreement, `runtime::drive`). A quiesce that sees nothing move for
    /// `stall_after` ends the job (`drive::stalled`).
    pub fn take(
        &mut self,
        world: &SimpleCommunicator,
        exec: &Executor,
        stats: &TransferStats,
        stall_after: Duration,
    ) {
        let ck = self.ck;
        let rank = world.rank() as u32;
        let ranks = world.size() as u32;
        let t = Instant::now();
        // 1b. Claim (rank 0) and broadcast the number; NO_FOLDER if none could be claimed.
        let mut seq = NO_FOLDER;
        if rank == 0 {
            match checkpoint::claim(&ck.dir, self.floor) {
                Ok(s) => seq = s,
                Err(e) => tracing::warn!("checkpoint skipped: {e}"),
            }
        }
        world.process_at_rank(0).broadcast_into(&mut seq);
        if seq == NO_FOLDER {
            self.stats.seconds += t.elapsed().as_secs_f64();
            return;
        }
        self.floor = seq + 1;
        // 2. Pause.
        exec.pause();
        // 3. Quiesce. Every rank sees the same sums, so all leave the loop in the same wave;
        // the third sum counts the ranks that saw no wave change for `stall_after`.
        let mut last = None;
        let mut moved = Instant::now();
        loop {
            let (queued, received) = stats.message_counts();
            let vote = u64::from(moved.elapsed() >= stall_after);
            let mut sums = [0u64; 3];
            world.all_reduce_into(
                &[queued, received, vote][..],
                &mut sums[..],
                SystemOperation::sum(),
            );
            let wave = (sums[0], sums[1]);
            if quiet(last, wave) {
                break;
            }
            if sums[2] > 0 {
                super::drive::stalled(
                    world,
                    exec,
                    &format!(
                        "checkpoint {seq} cannot quiesce: {} messages were sent and {} \
                         received, and nothing moved for {:.0} s",
                        wave.0,
                        wave.1,
                        stall_after.as_secs_f64()
                    ),
                );
            }
            if last != Some(wave) {
                moved = Instant::now();
            }
            last = Some(wave);
            std::thread::sleep(Duration::from_micros(200));
        }
        // 4. Write.
        let snap = exec.snapshot();
        let mut finished = snap.finished;
        if rank == 0 {
            finished.extend_from_slice(self.prior_finished);
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
                self.commit(seq, ranks, total_finished, &all, &dir, t);
            } else {
                tracing::warn!("checkpoint {seq} abandoned (a rank could not write its file); the previous checkpoint stays in use");
                let _ = std::fs::remove_dir_all(&dir);
            }
        } else {
            root.gather_into(&mine[..]);
        }
        // 5. Resume.
        exec.resume();
        self.stats.seconds += t.elapsed().as_secs_f64();
    }

    /// Rank 0, step 4's end: writes the manifest (the commit point) and prunes older
    /// checkpoints of this job. `all` holds each rank's (xxh3, bytes).
    fn commit(
        &mut self,
        seq: u64,
        ranks: u32,
        total_finished: u64,
        all: &[u64],
        dir: &std::path::Path,
        t: Instant,
    ) {
        let ck = self.ck;
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
        match checkpoint::write_manifest(dir, &m) {
            Ok(()) => {
                let size: u64 = all.chunks(2).map(|c| c[1]).sum();
                tracing::info!(
                    "checkpoint {seq}: {} tasks finished, {:.1} MiB in {} ({:.2} s)",
                    total_finished,
                    size as f64 / (1 << 20) as f64,
                    dir.display(),
                    t.elapsed().as_secs_f64()
                );
                let keep: Vec<u64> = std::iter::once(seq).chain(self.previous).collect();
                checkpoint::prune(&ck.dir, &ck.fingerprint, &keep);
                self.previous = Some(seq);
                self.stats.taken += 1;
            }
            Err(e) => tracing::warn!(
                "checkpoint {seq}: cannot write the manifest: {e}; the previous checkpoint stays in use"
            ),
        }
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
