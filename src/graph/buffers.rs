//! Recycled tile buffers.
//!
//! A stencil step makes a new tile per tile and step, and the previous version dies a moment
//! later: without recycling, each new tile is fresh memory from the allocator, and what a rank
//! holds at its peak depended on how long the allocator kept freed tiles before returning them
//! to the OS (1.6-1.9x the data a rank owns on Life under load, against 1.3x with immediate
//! purging, which cost page faults on every new tile; see BENCHMARKS.md "Peak memory per
//! rank"). Here a stencil kernel takes its output buffer from the pool and wraps it with
//! `Array::recycled`, and so does `rand_tile` for a stencil's initial tiles; when that array
//! dies its buffer comes back (`Array`'s `Drop`) for the next kernel that needs one of the
//! same type and about that length (the most recently given first, which is likeliest still
//! in the cache), so a stencil run reuses the same few buffers: no page faults, and peak
//! memory is the peak of live tiles plus at most
//! [`MAX_POOLED`] spare buffers. Only recycled arrays come back: other arrays (received
//! values, dense tiles, copies) go to the allocator, which reuses their memory itself, so the
//! pool never holds buffers no kernel asks for.
//!
//! A new buffer is made with room for 1/`SLACK` more elements than asked, untouched (not
//! resident) until a request needs it, so a tile's buffer can later hold the frame of ghost
//! cells around it (Life's deep halos). BENCHMARKS.md, "Peak memory per rank" (c7faaa4
//! column), has what both cost before (`benches/memory.py --halo 2`; `--tiles 8,1` for the
//! initial tiles).
//!
//! Only buffers of at least [`MIN_BYTES`] are pooled; smaller ones go back to the allocator,
//! which handles them well. A taken buffer holds stale values: kernels that take one must write
//! every element.

use super::value::{DType, Data};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Buffers smaller than this are not pooled.
pub const MIN_BYTES: usize = 256 << 10;

/// At most this many spare buffers are kept; the oldest goes back to the allocator first.
pub const MAX_POOLED: usize = 8;

/// Spare buffers, oldest first.
struct Pool(Mutex<VecDeque<Data>>);

/// The process's pool, shared by every kernel.
static POOL: Pool = Pool(Mutex::new(VecDeque::new()));

/// An element type whose buffers can be pooled.
pub trait Element: Copy + Default + Send + 'static {
    /// The dtype of a `Vec<Self>`.
    const DTYPE: DType;
    /// The buffer inside `data`, if it has this element type.
    fn unwrap(data: Data) -> Option<Vec<Self>>;
}

macro_rules! element {
    ($t:ty, $variant:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn unwrap(data: Data) -> Option<Vec<Self>> {
                match data {
                    Data::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
element!(f64, F64);
element!(f32, F32);
element!(i64, I64);
element!(u8, U8);

/// A pooled buffer serves a request for up to 1/`SLACK` fewer elements than it has room for,
/// and a new one is made with room for 1/`SLACK` more than its first request.
/// Deep halos (`graph::stencil::Frame`) alternate a tile with a frame a few rows larger around
/// it; served only by exact length, a step of one size took a buffer that had sat in the
/// pool while the other size ran (cold in the cache), and such steps ran about 25 % slower
/// than those that took the buffer just freed (benches/HISTORY.md, "Scaling", tenth session).
const SLACK: usize = 8;

/// A buffer of `len` elements: the pool's most recently given one of this type with room
/// for `len` and at most 1/`SLACK` more (still in the cache, most likely; holding stale
/// values), otherwise a new zeroed one with that room. The caller must write every element.
pub fn take<T: Element>(len: usize) -> Vec<T> {
    POOL.take(len)
}

/// Hands a dead buffer to the pool (or to the allocator when it is small or the pool is full).
pub fn give(data: Data) {
    POOL.give(data)
}

impl Pool {
    fn take<T: Element>(&self, len: usize) -> Vec<T> {
        if len * std::mem::size_of::<T>() >= MIN_BYTES {
            let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let room = len..=len + len / SLACK;
            if let Some(i) = pool
                .iter()
                .rposition(|d| d.dtype() == T::DTYPE && room.contains(&d.capacity()))
            {
                let data = pool.remove(i).expect("index from rposition");
                drop(pool);
                let mut v = T::unwrap(data).expect("dtype checked");
                // Within its capacity: no reallocation; only a longer request writes anything.
                v.resize(len, T::default());
                return v;
            }
            // Room for 1/SLACK more, never written until a request needs it (module doc).
            let mut v = Vec::with_capacity(len + len / SLACK);
            v.resize(len, T::default());
            return v;
        }
        vec![T::default(); len]
    }

    fn give(&self, data: Data) {
        if data.len() * data.dtype().size() < MIN_BYTES {
            return;
        }
        let evicted = {
            let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
            pool.push_back(data);
            (pool.len() > MAX_POOLED).then(|| pool.pop_front())
        };
        // Freed outside the lock.
        drop(evicted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each test has a pool of its own: tests run in parallel, and one test's buffers would
    // evict or take another's from the shared one.
    fn pool() -> Pool {
        Pool(Mutex::new(VecDeque::new()))
    }

    #[test]
    fn a_given_buffer_is_taken_again_only_for_the_same_type_and_room_enough() {
        let p = pool();
        let n = (MIN_BYTES / 8) + 12_345;
        let mut v = p.take::<f64>(n);
        v[0] = 42.0;
        let ptr = v.as_ptr();
        p.give(Data::F64(v));
        let other_len = p.take::<f64>(n + n / SLACK + 1);
        assert_ne!(other_len.as_ptr(), ptr, "longer than its room");
        let other_type = p.take::<i64>(n);
        assert_ne!(other_type.as_ptr() as *const f64, ptr);
        let again = p.take::<f64>(n);
        assert_eq!(again.as_ptr(), ptr, "the same buffer comes back");
        assert_eq!(again.len(), n);
    }

    #[test]
    fn a_new_buffer_has_room_for_the_frame_around_its_tile() {
        let p = pool();
        // A tile, then a frame a few rows larger around it, then
        // the tile again: one buffer serves all three, in place.
        let n = (MIN_BYTES / 8) + 23_456;
        let v = p.take::<f64>(n);
        assert!(v.capacity() >= n + n / SLACK, "room for 1/SLACK more");
        let ptr = v.as_ptr();
        p.give(Data::F64(v));
        let shorter = p.take::<f64>(n - n / SLACK);
        assert_ne!(
            shorter.as_ptr(),
            ptr,
            "a request 1/SLACK shorter leaves more room unused than allowed: not this buffer"
        );
        let frame = p.take::<f64>(n + 3);
        assert_eq!(
            (frame.as_ptr(), frame.len()),
            (ptr, n + 3),
            "grown in place"
        );
        p.give(Data::F64(frame));
        let again = p.take::<f64>(n);
        assert_eq!(
            (again.as_ptr(), again.len()),
            (ptr, n),
            "and the tile again"
        );
    }

    #[test]
    fn the_most_recently_given_buffer_is_taken_first() {
        let p = pool();
        let n = (MIN_BYTES / 8) + 34_567;
        let (a, b) = (p.take::<f64>(n), p.take::<f64>(n));
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        p.give(Data::F64(a));
        p.give(Data::F64(b));
        let (first, second) = (p.take::<f64>(n), p.take::<f64>(n));
        assert_eq!((first.as_ptr(), second.as_ptr()), (pb, pa));
    }

    #[test]
    fn small_buffers_are_not_pooled_and_new_buffers_are_zeroed() {
        let p = pool();
        let n = 1000;
        let mut v = p.take::<u8>(n);
        assert!(v.iter().all(|&x| x == 0));
        v.fill(7);
        p.give(Data::U8(v));
        assert!(p.take::<u8>(n).iter().all(|&x| x == 0));
    }

    #[test]
    fn the_pool_keeps_at_most_max_pooled_buffers() {
        let p = pool();
        let n = (MIN_BYTES / 8) + 54_321;
        for _ in 0..MAX_POOLED + 4 {
            p.give(Data::F64(vec![1.0; n]));
        }
        let pool = p.0.lock().unwrap();
        assert!(pool.len() <= MAX_POOLED);
    }
}
