//! What may be read and what may be overwritten. An input must be a regular file: opening a
//! FIFO blocks until someone writes to it, a device never ends. A result must not clobber
//! anything: not another result of the same run, not the job file or an input, and never
//! something that is not a regular file (`--output /dev/null` as root would replace the device
//! with a file). Paths are compared by identity: device and inode where the file exists, the
//! canonical folder and the name otherwise, so `out.h5`, `./out.h5` and a symbolic link to it
//! are one file.

use std::fs::{FileType, Metadata};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What a file that is not a regular file is, for messages.
fn kind(t: FileType) -> &'static str {
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn irregular(m: &Metadata) -> Option<&'static str> {
    (!m.is_file()).then(|| kind(m.file_type()))
}

/// Checks, without opening it, that `path` is a regular file one can read to its end (a FIFO
/// or a device would block or never end). A missing file gives the usual `NotFound` error.
pub fn require_regular(path: &Path) -> io::Result<()> {
    let m = std::fs::metadata(path)?;
    match irregular(&m) {
        None => Ok(()),
        Some(k) => Err(io::Error::other(format!(
            "it is {k}, not a regular file: dirk reads only regular files"
        ))),
    }
}

/// Which file a path names: device and inode where it exists, else its canonical folder and
/// its name (`None` where the folder does not exist either).
#[derive(Clone, Debug, PartialEq, Eq)]
enum FileId {
    Inode(u64, u64),
    Path(PathBuf),
}

fn file_id(path: &Path) -> Option<FileId> {
    if let Ok(m) = std::fs::metadata(path) {
        return Some(FileId::Inode(m.dev(), m.ino()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(FileId::Path(
        std::fs::canonicalize(dir).ok()?.join(path.file_name()?),
    ))
}

/// Why `path` cannot be a result file, judged from its text and what exists there: empty, a
/// name ending in `/` (a folder), or an existing folder, FIFO or device.
pub fn result_path_problem(path: &Path) -> Option<String> {
    let text = path.as_os_str().as_encoded_bytes();
    if text.is_empty() {
        return Some("an empty path: name a file".into());
    }
    if text.ends_with(b"/") || path.file_name().is_none() {
        return Some("names a folder (it ends in `/` or `..`): name a file".into());
    }
    match std::fs::metadata(path) {
        Ok(m) => irregular(&m).map(|k| {
            format!("it exists and is {k}; dirk replaces only regular files: name a file")
        }),
        Err(_) => None,
    }
}

/// Checks a run's result paths before anything runs: each one on its own
/// ([`result_path_problem`]), no two naming one file, and none naming one of `inputs` (the
/// job file, `load` files, a workload's `init` file). Each entry is (what: a flag or JSON
/// key, path); the message names both sides.
pub fn check_results(
    results: &[(String, PathBuf)],
    inputs: &[(String, PathBuf)],
) -> Result<(), String> {
    let mut seen: Vec<(&str, &Path, Option<FileId>)> = Vec::with_capacity(results.len());
    let input_ids: Vec<(&str, &Path, Option<FileId>)> = inputs
        .iter()
        .map(|(w, p)| (w.as_str(), p.as_path(), file_id(p)))
        .collect();
    for (what, path) in results {
        if let Some(why) = result_path_problem(path) {
            return Err(format!("{what} {}: {why}", path.display()));
        }
        let id = file_id(path);
        let same = |other: &Option<FileId>| id.is_some() && *other == id;
        if let Some((w, p, _)) = seen.iter().find(|(_, _, o)| same(o)) {
            return Err(format!(
                "{what} {} and {w} {} are the same file: each result needs a file of its own",
                path.display(),
                p.display()
            ));
        }
        if let Some((w, p, _)) = input_ids.iter().find(|(_, _, o)| same(o)) {
            return Err(format!(
                "{what} {} is {w} ({}): dirk reads it, so it must not overwrite it",
                path.display(),
                p.display()
            ));
        }
        seen.push((what.as_str(), path.as_path(), id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(list: &[(&str, &Path)]) -> Vec<(String, PathBuf)> {
        list.iter()
            .map(|(w, p)| (w.to_string(), p.to_path_buf()))
            .collect()
    }

    #[test]
    fn refuses_clashes_inputs_and_special_files() {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("job.json");
        std::fs::write(&job, "{}").unwrap();
        let out = dir.path().join("out.h5");
        let same = dir.path().join(".").join("out.h5");
        let trace = dir.path().join("t.json");
        let inputs = named(&[("the job file", &job)]);
        let ok = check_results(&named(&[("--output", &out), ("--trace", &trace)]), &inputs);
        assert_eq!(ok, Ok(()));
        let two = check_results(&named(&[("--output", &out), ("--trace", &same)]), &inputs);
        assert!(two.unwrap_err().contains("same file"));
        let over_job = check_results(&named(&[("--summary", &job)]), &inputs);
        assert!(over_job.unwrap_err().contains("the job file"));
        let null = check_results(&named(&[("--output", Path::new("/dev/null"))]), &[]);
        assert!(null.unwrap_err().contains("character device"));
        for bad in ["", "some/dir/", "x/.."] {
            let e = check_results(&named(&[("--output", Path::new(bad))]), &[]);
            assert!(e.is_err(), "{bad:?}");
        }
        assert!(require_regular(dir.path()).is_err());
        assert!(require_regular(&job).is_ok());
    }
}
