//! Whole-or-nothing files: write under a temporary name in the target's folder, fsync, then
//! rename over the target, so a reader never sees a half-written file.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// A file being written; it appears at its final path only on `commit`.
#[derive(Debug)]
pub struct AtomicPath {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl AtomicPath {
    /// Reserves a temporary name beside `target`.
    pub fn new(target: &Path) -> AtomicPath {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        AtomicPath {
            tmp,
            target: target.to_path_buf(),
            committed: false,
        }
    }

    /// Where to write.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Flushes the temporary file to disk and renames it to the target.
    pub fn commit(mut self) -> io::Result<()> {
        File::open(&self.tmp)?.sync_all()?;
        std::fs::rename(&self.tmp, &self.target)?;
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Persist the rename itself; not every filesystem allows opening a folder.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicPath {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
