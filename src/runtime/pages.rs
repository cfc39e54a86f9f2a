//! Transparent huge pages off for the process, unless the user asks for them.
//!
//! mimalloc marks its arenas `MADV_HUGEPAGE`, so with the kernel's THP set to `madvise` (the
//! usual default) the first touch of each 2 MiB of heap is a huge-page fault that clears the
//! whole 2 MiB at once. On a VM whose host backs guest memory lazily that one fault took
//! 4-5 ms here, and a rank's heap keeps growing for the first few hundred steps of a run
//! (`perf`: `clear_page_erms` under `vma_alloc_anon_folio_pmd`, called from mimalloc's page
//! initialisation). One rank stalled that long stalls its neighbours too, every time: in a
//! 2-rank weak Life run these stalls were most of the gaps of 20 µs and more
//! (benches/HISTORY.md, "Scaling", sixth session). With 4 KiB pages the same memory is cleared
//! a page at a time.
//! Large arrays lose little: stencil tiles are recycled (`graph::buffers`), so their pages
//! are touched once.
//!
//! Setting `MIMALLOC_ALLOW_THP` (mimalloc's own switch: 1 keeps huge pages) leaves the choice
//! to mimalloc.

/// Turns THP off for this process (`PR_SET_THP_DISABLE`, Linux) unless `MIMALLOC_ALLOW_THP`
/// is set. Returns whether it did. Call it first thing in `main`: faults after the call are
/// 4 KiB ones, in mappings made before it too.
pub fn no_huge_pages() -> bool {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return false;
    }
    disable()
}

#[cfg(target_os = "linux")]
fn disable() -> bool {
    // SAFETY: PR_SET_THP_DISABLE takes one integer argument and touches no memory of ours;
    // the unused arguments must be zero.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn disable() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_flag_is_set() {
        // Forked so the test process keeps its own setting.
        // SAFETY: fork in a test: the child only calls async-signal-safe prctl and _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let ok = super::disable();
            // SAFETY: reading the flag takes no pointer.
            let now = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
            // SAFETY: ends the child at once, without running the test harness's exit code.
            unsafe { libc::_exit(if ok && now == 1 { 0 } else { 1 }) };
        }
        assert!(pid > 0, "fork failed");
        let mut status = 0;
        // SAFETY: waits for the child forked above; `status` is a live local.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
}
