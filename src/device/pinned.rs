//! Pinned host staging for the CUDA device: a small pool of page-locked host buffers that
//! uploads and downloads copy through.
//!
//! A copy from pageable host memory makes the driver stage it through its own pinned bounce
//! buffer, synchronously with respect to the host and (on most systems) serialised with other
//! copies; from page-locked memory the copy engine reads the buffer directly, asynchronously,
//! so a copy on one stream overlaps kernels (and copies in the other direction) on the
//! device's other streams. Page-locking is expensive (a system call and page-table work per
//! allocation), so buffers are reused rather than allocated per copy:
//!
//! - `take(bytes)` hands out the smallest free buffer holding `bytes`, else allocates one of
//!   the next power of two (at least `MIN_BUFFER`). Copies above `MAX_STAGED` bytes go
//!   straight from pageable memory instead: page-locking that much would take host RAM from
//!   everything else, and at that size the bounce-buffer overhead is small.
//! - `give(buffer)` returns it after the copy completed (the caller synchronised its stream);
//!   at most `MAX_POOLED` buffers are kept, the largest ones, and the rest are freed.
//!
//! A buffer is either in the pool or owned by exactly one copy, so no two copies share one.
//! The pool belongs to one `CudaDevice` and its context; it holds at most
//! `MAX_POOLED × MAX_STAGED` bytes of page-locked memory (512 MiB) and typically far less.

use super::DeviceError;
use cudarc::driver::{CudaContext, PinnedHostSlice};
use std::sync::{Arc, Mutex};

/// Smallest buffer allocated, bytes.
const MIN_BUFFER: usize = 64 << 10;
/// Largest copy staged through the pool, bytes.
pub(super) const MAX_STAGED: usize = 64 << 20;
/// Buffers kept for reuse.
const MAX_POOLED: usize = 8;

/// A pool of page-locked host buffers of one CUDA context.
pub(super) struct PinnedPool {
    ctx: Arc<CudaContext>,
    free: Mutex<Vec<PinnedHostSlice<u8>>>,
}

/// A plain number type that any bit pattern is a valid value of.
pub(super) trait Plain: Copy {}
impl Plain for f64 {}
impl Plain for f32 {}
impl Plain for i64 {}
impl Plain for u8 {}
impl Plain for i32 {}

fn cuda<E: std::fmt::Debug>(e: E) -> DeviceError {
    DeviceError::Cuda(format!("{e:?}"))
}

impl PinnedPool {
    /// An empty pool allocating in `ctx`.
    pub(super) fn new(ctx: Arc<CudaContext>) -> PinnedPool {
        PinnedPool {
            ctx,
            free: Mutex::new(Vec::new()),
        }
    }

    /// A buffer of at least `bytes` bytes, or `None` when the copy should not be staged.
    pub(super) fn take(&self, bytes: usize) -> Result<Option<PinnedHostSlice<u8>>, DeviceError> {
        if bytes == 0 || bytes > MAX_STAGED {
            return Ok(None);
        }
        {
            let mut free = self.free.lock().expect("pinned pool lock");
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, b)| b.len() >= bytes)
                .min_by_key(|(_, b)| b.len())
                .map(|(i, _)| i);
            if let Some(i) = best {
                return Ok(Some(free.swap_remove(i)));
            }
        }
        let size = bytes.next_power_of_two().max(MIN_BUFFER);
        // SAFETY: the memory is uninitialised after the call; it is zeroed below before any
        // read. Flags 0: plain page-locked memory (not write-combined: downloads read it).
        let mut b = unsafe { self.ctx.alloc_pinned_with_flags::<u8>(size, 0) }.map_err(cuda)?;
        b.as_mut_slice().map_err(cuda)?.fill(0);
        Ok(Some(b))
    }

    /// Returns a buffer whose copy has completed.
    pub(super) fn give(&self, b: PinnedHostSlice<u8>) {
        let mut free = self.free.lock().expect("pinned pool lock");
        free.push(b);
        if free.len() > MAX_POOLED {
            // Keep the largest: they serve every smaller copy too.
            let smallest = free
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.len())
                .map(|(i, _)| i)
                .expect("non-empty");
            free.swap_remove(smallest);
        }
    }

    /// Buffers in the pool now.
    #[cfg(test)]
    fn pooled(&self) -> usize {
        self.free.lock().expect("pinned pool lock").len()
    }
}

/// The first `n` elements of a pinned buffer, as `T`.
pub(super) fn typed<T: Plain>(
    b: &mut PinnedHostSlice<u8>,
    n: usize,
) -> Result<&mut [T], DeviceError> {
    let bytes = b.as_mut_slice().map_err(cuda)?;
    assert!(
        n * std::mem::size_of::<T>() <= bytes.len(),
        "pinned buffer too small"
    );
    assert!(
        bytes.as_ptr().cast::<T>().is_aligned(),
        "pinned buffer misaligned"
    );
    // SAFETY: the buffer holds at least n·size_of::<T>() initialised bytes (zeroed when
    // allocated), its start is aligned for T (checked above; cuMemHostAlloc returns
    // page-aligned memory), T is a plain number type valid for any bit pattern, and the
    // returned slice borrows `b` mutably, so nothing else reads or writes it meanwhile.
    Ok(unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), n) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs a GPU; skipped elsewhere.
    #[test]
    fn buffers_are_reused_and_the_pool_is_bounded() {
        if super::super::cuda::device_count().unwrap_or(0) == 0 {
            println!("SKIPPED buffers_are_reused_and_the_pool_is_bounded: no GPU");
            return;
        }
        let pool = PinnedPool::new(CudaContext::new(0).unwrap());
        let a = pool.take(1000).unwrap().unwrap();
        assert_eq!(a.len(), MIN_BUFFER);
        let p = a.as_slice().unwrap().as_ptr();
        pool.give(a);
        let b = pool.take(MIN_BUFFER).unwrap().unwrap();
        assert_eq!(b.as_slice().unwrap().as_ptr(), p, "the buffer was reused");
        assert!(pool.take(MAX_STAGED + 1).unwrap().is_none());
        pool.give(b);
        let many: Vec<_> = (0..MAX_POOLED + 3)
            .map(|_| pool.take(10).unwrap().unwrap())
            .collect();
        for b in many {
            pool.give(b);
        }
        assert_eq!(pool.pooled(), MAX_POOLED);
    }
}
