//! Checkpoint files: one HDF5 file per rank plus a JSON manifest that commits them.
//!
//! Layout of `DIR/ckpt-NNNNNN/` (N = sequence number), a folder that `claim` creates on
//! rank 0 before any rank writes into it, so jobs sharing `DIR` never share a number:
//!
//! - `rank-R.h5`: attributes `fingerprint`, `seq`, `rank`, `ranks`; dataset `finished` (graph
//!   indices of the tasks finished on that rank, u32); one dataset `values/<task index>` per
//!   value the rank held, with attribute `xxh3` (checksum of its bytes);
//! - `MANIFEST.json`: written last, whole or not at all; lists every rank file with its size
//!   and xxh3 checksum. A folder without a manifest is an incomplete checkpoint and is never
//!   used; one whose files do not match their checksums is corrupt and is skipped.

use super::atomic::AtomicPath;
use super::error::StoreError;
use super::input::read_value;
use crate::graph::{DType, Data, Value, ValueType};
use hdf5::types::VarLenUnicode;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xxhash_rust::xxh3::Xxh3;

/// Identifies one checkpoint file being written.
#[derive(Clone, Debug)]
pub struct RankFileMeta<'a> {
    /// Fingerprint of the job's graph.
    pub fingerprint: &'a str,
    /// Checkpoint sequence number.
    pub seq: u64,
    /// The writing rank.
    pub rank: u32,
    /// Ranks of the run.
    pub ranks: u32,
}

/// The commit record of a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub dirk_checkpoint: u32,
    /// Sequence number.
    pub seq: u64,
    /// Fingerprint of the job's graph.
    pub fingerprint: String,
    /// Ranks of the run that wrote it.
    pub ranks: u32,
    /// Tasks finished when it was taken.
    pub finished_tasks: u64,
    /// One entry per rank file.
    pub files: Vec<ManifestFile>,
}

/// A rank file as the manifest records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// The rank that wrote it.
    pub rank: u32,
    /// File name inside the checkpoint folder.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// xxh3 of the whole file, hex.
    pub xxh3: String,
}

/// The folder of checkpoint `seq` under `base`.
pub fn checkpoint_dir(base: &Path, seq: u64) -> PathBuf {
    base.join(format!("ckpt-{seq:06}"))
}

/// How many folders `claim` tries before it gives up: another job claims at most a few
/// numbers between one look at the folder and the next.
const CLAIM_ATTEMPTS: u32 = 64;

/// The highest sequence number of the `ckpt-*` folders under `base` (0 if none).
fn highest_seq(base: &Path) -> Result<u64, StoreError> {
    Ok(std::fs::read_dir(base)
        .map_err(|e| StoreError::file(base, e))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("ckpt-")?.parse().ok())
        .max()
        .unwrap_or(0))
}

/// Claims the folder of a new checkpoint under `base`: the first sequence number at least
/// `floor` and above every `ckpt-*` folder there, whose folder this call creates. Creating a
/// folder is atomic (`create_dir` fails if it exists), so two jobs sharing `base` never get
/// the same number: one that finds its number taken looks again above the highest. Only the
/// claimer creates the folder; the ranks write into it after it said which it got.
pub fn claim(base: &Path, floor: u64) -> Result<u64, StoreError> {
    let mut seq = floor.max(highest_seq(base)? + 1);
    for _ in 0..CLAIM_ATTEMPTS {
        let dir = checkpoint_dir(base, seq);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(seq),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                seq = (seq + 1).max(highest_seq(base)? + 1);
            }
            Err(e) => return Err(StoreError::file(&dir, e)),
        }
    }
    Err(StoreError::file(
        base,
        format!(
            "no checkpoint folder could be claimed: {CLAIM_ATTEMPTS} numbers in a row were \
             taken by other jobs (up to ckpt-{seq:06})"
        ),
    ))
}

/// The name of rank `rank`'s file.
pub fn rank_file_name(rank: u32) -> String {
    format!("rank-{rank}.h5")
}

fn hash_value(v: &Value) -> u64 {
    let mut h = Xxh3::new();
    match v {
        Value::Scalar(x) => h.update(&x.to_le_bytes()),
        Value::Array(a) => match a.data() {
            Data::U8(v) => h.update(v),
            Data::F64(v) => hash_chunks(&mut h, v, |x| x.to_le_bytes()),
            Data::F32(v) => hash_chunks(&mut h, v, |x| x.to_le_bytes()),
            Data::I64(v) => hash_chunks(&mut h, v, |x| x.to_le_bytes()),
        },
    }
    h.digest()
}

/// Feeds elements to the hasher as little-endian bytes, a stack buffer at a time.
fn hash_chunks<T: Copy, const N: usize>(h: &mut Xxh3, v: &[T], bytes: impl Fn(T) -> [u8; N]) {
    let mut buf = [0u8; 8192];
    for chunk in v.chunks(8192 / N) {
        let mut n = 0;
        for &x in chunk {
            buf[n..n + N].copy_from_slice(&bytes(x));
            n += N;
        }
        h.update(&buf[..n]);
    }
}

/// xxh3 of a file's bytes.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((h.digest(), total));
        }
        total += n as u64;
        h.update(&buf[..n]);
    }
}

fn text(s: &str) -> hdf5::Result<VarLenUnicode> {
    s.parse::<VarLenUnicode>()
        .map_err(|e| e.to_string().as_str().into())
}

/// A hook for the failure-injection tests: `DIRK_TEST_FAULT=ckpt-fail:R:S` makes rank R's
/// write of checkpoint S fail as a full disk would; `ckpt-die:R:S` kills rank R in the middle
/// of writing it. Unset in normal runs.
fn injected_fault(meta: &RankFileMeta<'_>) -> Option<&'static str> {
    let spec = std::env::var("DIRK_TEST_FAULT").ok()?;
    let mut it = spec.split(':');
    let (kind, r, s) = (
        it.next()?,
        it.next()?.parse::<u32>().ok()?,
        it.next()?.parse::<u64>().ok()?,
    );
    if r != meta.rank || s != meta.seq {
        return None;
    }
    match kind {
        "ckpt-fail" => Some("fail"),
        "ckpt-die" => Some("die"),
        _ => None,
    }
}

/// Writes one rank's checkpoint file, whole or not at all; returns its (xxh3, size).
pub fn write_rank_file(
    path: &Path,
    meta: &RankFileMeta<'_>,
    finished: &[u32],
    values: &[(u32, Arc<Value>)],
) -> Result<(u64, u64), StoreError> {
    let fault = injected_fault(meta);
    if fault == Some("fail") {
        return Err(StoreError::file(
            path,
            "No space left on device (injected by DIRK_TEST_FAULT)",
        ));
    }
    let atomic = AtomicPath::new(path);
    let err = |e: hdf5::Error| StoreError::file(path, e);
    {
        let f = hdf5::File::create(atomic.tmp()).map_err(err)?;
        f.new_attr::<VarLenUnicode>()
            .shape(())
            .create("fingerprint")
            .and_then(|a| a.write_scalar(&text(meta.fingerprint)?))
            .map_err(err)?;
        for (name, x) in [
            ("seq", meta.seq),
            ("rank", meta.rank.into()),
            ("ranks", meta.ranks.into()),
        ] {
            f.new_attr::<u64>()
                .shape(())
                .create(name)
                .and_then(|a| a.write_scalar(&x))
                .map_err(err)?;
        }
        f.new_dataset::<u32>()
            .shape(finished.len())
            .create("finished")
            .and_then(|d| d.write_raw(finished))
            .map_err(err)?;
        let g = f.create_group("values").map_err(err)?;
        for (i, (key, v)) in values.iter().enumerate() {
            if fault == Some("die") && i == values.len() / 2 {
                f.flush().map_err(err)?;
                // Die the way a killed process does: no unwinding, no cleanup.
                std::process::abort();
            }
            let name = key.to_string();
            let ds = match v.as_ref() {
                Value::Scalar(x) => {
                    let ds = g
                        .new_dataset::<f64>()
                        .shape(())
                        .create(name.as_str())
                        .map_err(err)?;
                    ds.write_scalar(x).map_err(err)?;
                    ds
                }
                Value::Array(a) => {
                    let b = match a.dtype() {
                        DType::F64 => g.new_dataset::<f64>(),
                        DType::F32 => g.new_dataset::<f32>(),
                        DType::I64 => g.new_dataset::<i64>(),
                        DType::U8 => g.new_dataset::<u8>(),
                    };
                    let ds = b.shape(a.shape()).create(name.as_str()).map_err(err)?;
                    match a.data() {
                        Data::F64(x) => ds.write_raw(x),
                        Data::F32(x) => ds.write_raw(x),
                        Data::I64(x) => ds.write_raw(x),
                        Data::U8(x) => ds.write_raw(x),
                    }
                    .map_err(err)?;
                    ds
                }
            };
            ds.new_attr::<u64>()
                .shape(())
                .create("xxh3")
                .and_then(|a| a.write_scalar(&hash_value(v)))
                .map_err(err)?;
        }
        f.flush().map_err(err)?;
    }
    atomic.commit().map_err(|e| StoreError::file(path, e))?;
    hash_file(path).map_err(|e| StoreError::file(path, e))
}

/// Writes the manifest: the commit point of checkpoint `m.seq`.
pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<(), StoreError> {
    let path = dir.join("MANIFEST.json");
    let atomic = AtomicPath::new(&path);
    let text = serde_json::to_string_pretty(m).expect("a manifest serialises");
    std::fs::write(atomic.tmp(), text).map_err(|e| StoreError::file(&path, e))?;
    atomic.commit().map_err(|e| StoreError::file(&path, e))
}

/// Reads the value of task `key` from a rank file, checking its checksum.
pub fn read_checkpoint_value(path: &Path, key: u32, ty: &ValueType) -> Result<Value, StoreError> {
    let name = format!("values/{key}");
    let err = |e: hdf5::Error| StoreError::dataset(path, &name, e);
    let f = hdf5::File::open(path).map_err(|e| StoreError::file(path, e))?;
    let ds = f.dataset(&name).map_err(err)?;
    let v = read_value(&ds, ty).map_err(err)?;
    let want = ds
        .attr("xxh3")
        .and_then(|a| a.read_scalar::<u64>())
        .map_err(err)?;
    if hash_value(&v) != want {
        return Err(StoreError::dataset(
            path,
            &name,
            "checksum mismatch: the checkpoint is corrupt",
        ));
    }
    Ok(v)
}

/// A committed checkpoint that matches the job, ready to resume from.
#[derive(Clone, Debug)]
pub struct Found {
    /// Its sequence number.
    pub seq: u64,
    /// Its rank files, in rank order.
    pub files: Vec<PathBuf>,
    /// Graph indices of every finished task.
    pub finished: Vec<u32>,
    /// (task index, index into `files`) of every stored value.
    pub values: Vec<(u32, u32)>,
}

/// Looks for the newest committed, intact checkpoint of the job with `fingerprint` under
/// `base` that `usable` accepts (the caller's own test: can the job be planned from it?), so
/// an unusable newest one falls back to the next older. Returns it (if any) with what
/// `usable` made of it, and one line per checkpoint passed over, saying why.
pub fn find_resumable<T>(
    base: &Path,
    fingerprint: &str,
    usable: impl Fn(&Found) -> Result<T, String>,
) -> (Option<(Found, T)>, Vec<String>) {
    let mut notes = Vec::new();
    let mut seqs: Vec<u64> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("ckpt-")?.parse().ok())
        .collect();
    seqs.sort_unstable_by(|a, b| b.cmp(a));
    for seq in seqs {
        let dir = checkpoint_dir(base, seq);
        match check(&dir, fingerprint).and_then(|f| usable(&f).map(|t| (f, t))) {
            Ok(found) => return (Some(found), notes),
            Err(why) => notes.push(format!("checkpoint {}: {why}; not used", dir.display())),
        }
    }
    (None, notes)
}

/// Why a checkpoint with fingerprint `theirs` is not the job's (`ours`); fingerprints are
/// `GRAPH-INPUTS-VERSION` (`plan::fingerprint`).
fn foreign(theirs: &str, ours: &str) -> String {
    let t: Vec<&str> = theirs.splitn(3, '-').collect();
    let o: Vec<&str> = ours.splitn(3, '-').collect();
    match (t.as_slice(), o.as_slice()) {
        ([tg, ti, tv], [og, oi, ov]) if tg == og => {
            if tv != ov {
                format!("written by dirk {tv}, this is dirk {ov}")
            } else if ti != oi {
                "an input file of the job changed since it was written (size or modification time)"
                    .into()
            } else {
                "written by a different job (fingerprint differs)".into()
            }
        }
        ([_, _, _], _) => "written by a different job (graph fingerprint differs)".into(),
        _ => "written by a different job or an older dirk (fingerprint differs)".into(),
    }
}

fn check(dir: &Path, fingerprint: &str) -> Result<Found, String> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.json")).map_err(|_| {
        "incomplete (no MANIFEST.json: the run stopped while writing it, or is writing it now)"
            .to_string()
    })?;
    let m: Manifest =
        serde_json::from_str(&text).map_err(|e| format!("unreadable manifest: {e}"))?;
    if m.fingerprint != fingerprint {
        return Err(foreign(&m.fingerprint, fingerprint));
    }
    let mut found = Found {
        seq: m.seq,
        files: Vec::new(),
        finished: Vec::new(),
        values: Vec::new(),
    };
    for (i, mf) in m.files.iter().enumerate() {
        let path = dir.join(&mf.file);
        let (hash, bytes) = hash_file(&path).map_err(|e| format!("{}: {e}", mf.file))?;
        if bytes != mf.bytes || format!("{hash:016x}") != mf.xxh3 {
            return Err(format!("{} does not match its checksum (corrupt)", mf.file));
        }
        let f = hdf5::File::open(&path).map_err(|e| format!("{}: {e}", mf.file))?;
        let fin = f
            .dataset("finished")
            .and_then(|d| d.read_raw::<u32>())
            .map_err(|e| format!("{}: {e}", mf.file))?;
        found.finished.extend(fin);
        let names = f
            .group("values")
            .and_then(|g| g.member_names())
            .map_err(|e| format!("{}: {e}", mf.file))?;
        for n in names {
            let key: u32 = n
                .parse()
                .map_err(|_| format!("{}: stray dataset values/{n}", mf.file))?;
            found.values.push((key, i as u32));
        }
        found.files.push(path);
    }
    Ok(found)
}

/// The fingerprint of the job that wrote the checkpoint folder `dir`: its manifest's, or for
/// one without a manifest (interrupted, or being written now) its first readable rank file's;
/// None if neither (a folder just claimed holds no file yet).
fn owner(dir: &Path) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(dir.join("MANIFEST.json")) {
        return serde_json::from_str::<Manifest>(&text)
            .ok()
            .map(|m| m.fingerprint);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("rank-") && n.ends_with(".h5"))
        })
        .collect();
    files.sort();
    files.iter().find_map(|f| {
        hdf5::File::open(f)
            .and_then(|f| f.attr("fingerprint"))
            .and_then(|a| a.read_scalar::<VarLenUnicode>())
            .ok()
            .map(|v| v.as_str().to_string())
    })
}

/// Removes the checkpoint folders under `base` of the job with `fingerprint`, except `keep`
/// (sequence numbers, the newest being the checkpoint just committed). Another job's (the
/// folder may be shared), any whose job cannot be told (one just claimed) and any numbered
/// above the newest kept stay: `claim` took the newest above every folder there, so a higher
/// one was claimed since, by a job running now.
pub fn prune(base: &Path, fingerprint: &str, keep: &[u64]) {
    let newest = keep.iter().copied().max().unwrap_or(0);
    for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
        let Some(seq) = e
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix("ckpt-")?.parse::<u64>().ok())
        else {
            continue;
        };
        if seq < newest && !keep.contains(&seq) && owner(&e.path()).as_deref() == Some(fingerprint)
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    #[test]
    fn claim_takes_the_next_number_above_the_highest_folder() {
        let b = base();
        std::fs::create_dir(checkpoint_dir(b.path(), 3)).unwrap();
        assert_eq!(claim(b.path(), 1).unwrap(), 4);
        assert!(checkpoint_dir(b.path(), 4).is_dir());
        // The run's own floor wins over a lower highest (its abandoned folder was removed).
        assert_eq!(claim(b.path(), 9).unwrap(), 9);
        assert!(checkpoint_dir(b.path(), 9).is_dir());
    }

    #[test]
    fn claim_passes_over_a_number_another_job_took_meanwhile() {
        let b = base();
        std::fs::create_dir(checkpoint_dir(b.path(), 3)).unwrap();
        // Another job created 4 between this job's look at the folder and its create: the
        // look said 3 was the highest, so the claim starts at 4 (the floor) and finds it taken.
        std::fs::create_dir(checkpoint_dir(b.path(), 4)).unwrap();
        let mut in_4 = std::fs::read_dir(checkpoint_dir(b.path(), 4)).unwrap();
        assert_eq!(claim(b.path(), 4).unwrap(), 5);
        assert!(checkpoint_dir(b.path(), 5).is_dir());
        assert!(
            in_4.next().is_none(),
            "the other job's folder is left as it was"
        );
        // A taken number is never handed out twice.
        assert_eq!(claim(b.path(), 4).unwrap(), 6);
    }

    #[test]
    fn claim_says_why_it_cannot_create_the_folder() {
        let b = base();
        let missing = b.path().join("gone");
        let e = claim(&missing, 1).unwrap_err().to_string();
        assert!(e.contains("gone"), "{e}");
    }

    /// Writes a committed checkpoint `seq` of the job `fingerprint` (one empty rank file).
    fn commit(b: &Path, seq: u64, fingerprint: &str) {
        let dir = checkpoint_dir(b, seq);
        std::fs::create_dir_all(&dir).unwrap();
        let meta = RankFileMeta {
            fingerprint,
            seq,
            rank: 0,
            ranks: 1,
        };
        let path = dir.join(rank_file_name(0));
        let (hash, bytes) = write_rank_file(&path, &meta, &[], &[]).unwrap();
        let m = Manifest {
            dirk_checkpoint: 1,
            seq,
            fingerprint: fingerprint.into(),
            ranks: 1,
            finished_tasks: 0,
            files: vec![ManifestFile {
                rank: 0,
                file: rank_file_name(0),
                bytes,
                xxh3: format!("{hash:016x}"),
            }],
        };
        write_manifest(&dir, &m).unwrap();
    }

    #[test]
    fn prune_leaves_claimed_folders_and_other_jobs_alone() {
        let b = base();
        let (ours, theirs) = ("g1-i1-v1", "g2-i2-v1");
        commit(b.path(), 1, ours);
        commit(b.path(), 2, theirs);
        commit(b.path(), 3, ours);
        // Claimed by another job and not written yet: no file tells whose it is.
        std::fs::create_dir(checkpoint_dir(b.path(), 4)).unwrap();
        commit(b.path(), 5, ours);
        // Claimed after ours, by a running job of the same fingerprint, half written.
        commit(b.path(), 6, ours);
        std::fs::remove_file(checkpoint_dir(b.path(), 6).join("MANIFEST.json")).unwrap();
        prune(b.path(), ours, &[5, 3]);
        let left: Vec<bool> = (1..=6)
            .map(|s| checkpoint_dir(b.path(), s).exists())
            .collect();
        assert_eq!(left, [false, true, true, true, true, true]);
        // Resume passes over the empty claimed folder and the other job's.
        let (found, notes) = find_resumable(b.path(), theirs, |_| Ok(()));
        assert_eq!(found.map(|(f, ())| f.seq), Some(2));
        assert!(notes
            .iter()
            .any(|n| n.contains("ckpt-000004") && n.contains("incomplete")));
    }
}
