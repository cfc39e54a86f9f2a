//! The job's fingerprint: what a checkpoint must match to be resumed. Three parts,
//! `GRAPH-INPUTS-VERSION`:
//!
//! - a checksum of everything in the graph that determines its results (task ids, ops and
//!   parameters, arguments, scopes, types, outputs) and of the kernel table
//!   (`Registry::fingerprint`: an application whose kernels changed does not resume);
//! - a checksum of the input files the job reads (`load`, tiles of an HDF5 window): each
//!   one's path, size and modification time, so an input fixed in place between a run and
//!   its `--resume` is not mixed with the old data (its contents are not read: a file
//!   rewritten with the same size and time passes);
//! - the dirk version (`CARGO_PKG_VERSION`), since another build may compute otherwise.
//!
//! A checkpoint is only ever resumed by a job with the same fingerprint; the rank and thread
//! counts are not part of it, since a resumed run may use others.

use crate::graph::Graph;
use std::collections::BTreeSet;
use std::fmt::Write;
use xxhash_rust::xxh3::Xxh3;

/// The fingerprint of `g` (reads the metadata of its input files).
pub fn fingerprint(g: &Graph) -> String {
    format!(
        "{:032x}-{:016x}-{}",
        graph_hash(g),
        inputs_hash(g),
        env!("CARGO_PKG_VERSION")
    )
}

fn graph_hash(g: &Graph) -> u128 {
    let mut h = Xxh3::new();
    h.update(&crate::registry::table_fingerprint().to_le_bytes());
    let mut line = String::new();
    for t in g.tasks() {
        line.clear();
        let _ = writeln!(
            line,
            "{}|{:?}|{:?}|{:?}|{:?}",
            t.id, t.op, t.args, t.scope, t.ty
        );
        h.update(line.as_bytes());
    }
    for o in g.outputs() {
        line.clear();
        let _ = writeln!(line, "out|{:?}", o);
        h.update(line.as_bytes());
    }
    h.digest128()
}

/// Path, size and modification time (ns) of every input file `g` names, once each.
fn inputs_hash(g: &Graph) -> u64 {
    let files: BTreeSet<&str> = g.tasks().iter().filter_map(|t| t.op.input_file()).collect();
    let mut h = Xxh3::new();
    for f in files {
        let (size, mtime) = match std::fs::metadata(f) {
            Ok(m) => (
                m.len(),
                m.modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos()),
            ),
            Err(_) => (u64::MAX, 0),
        };
        h.update(format!("{f}|{size}|{mtime}\n").as_bytes());
    }
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Arg, DType, Op};

    #[test]
    fn depends_on_parameters() {
        let make = |seed| {
            let mut g = Graph::new();
            let x = g
                .spawn(
                    Op::new(crate::kernels::Rand {
                        seed,
                        dtype: DType::F64,
                    }),
                    [Arg::Shape(vec![4])],
                )
                .unwrap();
            g.spawn(Op::new(crate::kernels::Sum), [x.into()]).unwrap();
            g
        };
        assert_eq!(fingerprint(&make(1)), fingerprint(&make(1)));
        assert_ne!(fingerprint(&make(1)), fingerprint(&make(2)));
        assert!(fingerprint(&make(1)).ends_with(concat!("-", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn depends_on_the_input_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.bin");
        let file = path.display().to_string();
        let make = || {
            let mut g = Graph::new();
            g.spawn(
                Op::new(crate::kernels::Load {
                    file: file.clone(),
                    dataset: "x".into(),
                    ty: crate::graph::ValueType::Scalar,
                }),
                [],
            )
            .unwrap();
            g
        };
        std::fs::write(&path, b"old").unwrap();
        let before = fingerprint(&make());
        assert_eq!(before, fingerprint(&make()));
        // Rewritten in place, same size: the modification time tells.
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        drop(f);
        let after = fingerprint(&make());
        assert_ne!(before, after);
        // Same graph, same version: only the middle part differs.
        assert_eq!(before[..32], after[..32]);
        std::fs::write(&path, b"longer").unwrap();
        assert_ne!(after, fingerprint(&make()));
    }
}
