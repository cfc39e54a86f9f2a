//! The per-rank device memory manager: which slot values have a device copy, how many bytes
//! are in use, and eviction when a task needs room.
//!
//! Rules:
//!
//! 1. Every device byte is accounted: cached copies (`entries`) plus reservations for outputs
//!    being computed. `used <= capacity` always holds.
//! 2. A copy is *pinned* while a running task reads it; pinned copies are never evicted.
//! 3. `reserve` evicts unpinned copies, least recently used first, until the request fits; if
//!    it cannot fit even then it fails and the caller runs the task on the CPU instead.
//! 4. Device results are written through to the host when their task ends, so the host always
//!    holds every value: evicting a copy only drops it, and nothing is lost.
//! 5. A copy is forgotten when the scheduler releases its slot (last local reader done).
//!
//! One mutex guards the whole table; it is held for bookkeeping only, never during a copy or
//! a kernel.

use super::{DeviceArray, DeviceError};
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};

struct Entry {
    array: Arc<DeviceArray>,
    pins: u32,
    last_use: u64,
}

#[derive(Default)]
struct Table {
    used: usize,
    clock: u64,
    evictions: u64,
    entries: FxHashMap<u32, Entry>,
}

/// Device copies of slot values and the byte accounting of one device.
pub struct DeviceMemory {
    capacity: usize,
    table: Mutex<Table>,
}

impl DeviceMemory {
    /// A manager for a device offering `capacity` bytes.
    pub fn new(capacity: usize) -> DeviceMemory {
        DeviceMemory {
            capacity,
            table: Mutex::new(Table::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().expect("device memory lock")
    }

    /// The cached copy of `slot`, pinned (rule 2), or `None` when it has none.
    pub fn pin(&self, slot: u32) -> Option<Arc<DeviceArray>> {
        let mut t = self.lock();
        t.clock += 1;
        let now = t.clock;
        let e = t.entries.get_mut(&slot)?;
        e.pins += 1;
        e.last_use = now;
        Some(Arc::clone(&e.array))
    }

    /// Ends one pin of `slot` taken by `pin` or `insert`.
    pub fn unpin(&self, slot: u32) {
        if let Some(e) = self.lock().entries.get_mut(&slot) {
            e.pins = e.pins.saturating_sub(1);
        }
    }

    /// Reserves `bytes`, evicting unpinned copies least recently used first (rule 3).
    pub fn reserve(&self, bytes: usize) -> Result<(), DeviceError> {
        let mut t = self.lock();
        while t.used + bytes > self.capacity {
            let victim = t
                .entries
                .iter()
                .filter(|(_, e)| e.pins == 0)
                .min_by_key(|(&s, e)| (e.last_use, s))
                .map(|(&s, _)| s);
            let Some(s) = victim else {
                return Err(DeviceError::OutOfMemory {
                    need: bytes,
                    free: self.capacity - t.used,
                    capacity: self.capacity,
                });
            };
            let e = t.entries.remove(&s).expect("victim exists");
            t.used -= e.array.bytes();
            t.evictions += 1;
        }
        t.used += bytes;
        Ok(())
    }

    /// Returns a reservation that was not turned into a copy.
    pub fn unreserve(&self, bytes: usize) {
        let mut t = self.lock();
        t.used -= bytes;
    }

    /// Caches `array` as the copy of `slot`; its bytes must be reserved already. With `pin`
    /// it starts pinned once. A second copy of a slot already cached is dropped (and its
    /// reservation returned); the existing one is pinned instead.
    pub fn insert(&self, slot: u32, array: Arc<DeviceArray>, pin: bool) {
        let mut t = self.lock();
        t.clock += 1;
        let now = t.clock;
        let bytes = array.bytes();
        if let Some(e) = t.entries.get_mut(&slot) {
            e.pins += u32::from(pin);
            e.last_use = now;
            t.used -= bytes;
            return;
        }
        t.entries.insert(
            slot,
            Entry {
                array,
                pins: u32::from(pin),
                last_use: now,
            },
        );
    }

    /// Drops the copy of `slot`, if any (rule 5).
    pub fn forget(&self, slot: u32) {
        let mut t = self.lock();
        if let Some(e) = t.entries.remove(&slot) {
            t.used -= e.array.bytes();
        }
    }

    /// True when `slot` has a device copy.
    pub fn resident(&self, slot: u32) -> bool {
        self.lock().entries.contains_key(&slot)
    }

    /// Bytes in use (copies and reservations).
    pub fn used(&self) -> usize {
        self.lock().used
    }

    /// The capacity this manager accounts against.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Copies evicted so far to make room.
    pub fn evictions(&self) -> u64 {
        self.lock().evictions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::DType;

    fn arr(n: usize) -> Arc<DeviceArray> {
        Arc::new(DeviceArray::new(vec![n], DType::U8, Box::new(())))
    }

    #[test]
    fn evicts_least_recently_used_unpinned_copies() {
        let m = DeviceMemory::new(100);
        for s in 0..3 {
            m.reserve(30).unwrap();
            m.insert(s, arr(30), false);
        }
        assert_eq!(m.used(), 90);
        m.pin(0).unwrap(); // 0 is now the most recent and pinned
        m.reserve(30).unwrap(); // evicts 1, the least recently used unpinned copy
        assert!(!m.resident(1) && m.resident(0) && m.resident(2));
        assert_eq!(m.evictions(), 1);
        assert_eq!(m.used(), 90);
        m.unreserve(30);
        assert_eq!(m.used(), 60);
    }

    #[test]
    fn pinned_copies_are_never_evicted() {
        let m = DeviceMemory::new(100);
        m.reserve(60).unwrap();
        m.insert(7, arr(60), true);
        let err = m.reserve(50).unwrap_err();
        assert_eq!(
            err,
            DeviceError::OutOfMemory {
                need: 50,
                free: 40,
                capacity: 100
            }
        );
        m.unpin(7);
        m.reserve(50).unwrap();
        assert!(!m.resident(7));
        assert_eq!(m.used(), 50);
    }

    #[test]
    fn a_duplicate_insert_keeps_one_copy_and_its_bytes() {
        let m = DeviceMemory::new(100);
        m.reserve(40).unwrap();
        m.insert(3, arr(40), true);
        m.reserve(40).unwrap();
        m.insert(3, arr(40), true);
        assert_eq!(m.used(), 40);
        m.forget(3);
        assert_eq!(m.used(), 0);
    }
}
