//! Recycled tile buffers.
//!
//! A stencil step makes a new tile per tile and step, and the previous version dies a moment
//! later: without recycling, each new tile is fresh memory from the allocator, and what a rank
//! holds at its peak depended on how long the allocator kept freed tiles before returning them
//! to the OS (1.6-1.9x the data a rank owns on Life under load, against 1.3x with immediate
//! purging, which cost page faults on every new tile; see BENCHMARKS.md "Peak memory per
//! rank"). Here a stencil kernel takes its output buffer from the pool and wraps it with
//! `Array::recycled`; when that array dies its buffer comes back (`Array`'s `Drop`) for the
//! next kernel that needs one of the same type and length, so a stencil run reuses the same
//! few buffers: no page faults, and peak memory is the peak of live tiles plus at most
//! [`MAX_POOLED`] spare buffers. Only recycled arrays come back: other arrays (received
//! values, dense tiles, copies) go to the allocator, which reuses their memory itself, so the
//! pool never holds buffers no kernel asks for.
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

static POOL: Mutex<VecDeque<Data>> = Mutex::new(VecDeque::new());

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

/// A buffer of `len` elements: a recycled one when the pool has one of this type and length
/// (holding stale values), otherwise a new zeroed one. The caller must write every element.
pub fn take<T: Element>(len: usize) -> Vec<T> {
    if len * std::mem::size_of::<T>() >= MIN_BYTES {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = pool
            .iter()
            .position(|d| d.dtype() == T::DTYPE && d.len() == len)
        {
            let data = pool.remove(i).expect("index from position");
            return T::unwrap(data).expect("dtype checked");
        }
    }
    vec![T::default(); len]
}

/// Hands a dead buffer to the pool (or to the allocator when it is small or the pool is full).
pub fn give(data: Data) {
    if data.len() * data.dtype().size() < MIN_BYTES {
        return;
    }
    let evicted = {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        pool.push_back(data);
        (pool.len() > MAX_POOLED).then(|| pool.pop_front())
    };
    // Freed outside the lock.
    drop(evicted);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_only_for_the_same_type_and_length() {
        // Lengths no other test uses, so parallel tests cannot take these buffers.
        let n = (MIN_BYTES / 8) + 12_345;
        let mut v = take::<f64>(n);
        v[0] = 42.0;
        let ptr = v.as_ptr();
        give(Data::F64(v));
        let other_len = take::<f64>(n + 1);
        assert_ne!(other_len.as_ptr(), ptr);
        let other_type = take::<i64>(n);
        assert_ne!(other_type.as_ptr() as *const f64, ptr);
        let again = take::<f64>(n);
        assert_eq!(again.as_ptr(), ptr, "the same buffer comes back");
        assert_eq!(again.len(), n);
    }

    #[test]
    fn small_buffers_are_not_pooled_and_new_buffers_are_zeroed() {
        let n = 1000;
        let mut v = take::<u8>(n);
        assert!(v.iter().all(|&x| x == 0));
        v.fill(7);
        give(Data::U8(v));
        assert!(take::<u8>(n).iter().all(|&x| x == 0));
    }

    #[test]
    fn the_pool_keeps_at_most_max_pooled_buffers() {
        let n = (MIN_BYTES / 8) + 54_321;
        for _ in 0..MAX_POOLED + 4 {
            give(Data::F64(vec![1.0; n]));
        }
        let pool = POOL.lock().unwrap();
        assert!(pool.len() <= MAX_POOLED);
    }
}
