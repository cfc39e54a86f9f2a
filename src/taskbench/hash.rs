//! Task Bench's deterministic random numbers: MurmurHash3 (x64, 128-bit) of the key's bytes
//! with seed 1234567, the first 64 bits scaled to [0, 1). Used by `load_imbalance` (per-task
//! iteration counts) and `random_nearest` (which neighbours are connected), so dirk draws
//! exactly the same values as Task Bench.

/// The seed Task Bench passes to MurmurHash3.
const SEED: u32 = 1_234_567;

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// MurmurHash3_x64_128 of `data` with `seed`: the two 64-bit halves (h1, h2).
pub fn murmur3_x64_128(data: &[u8], seed: u32) -> [u64; 2] {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let mut h1 = u64::from(seed);
    let mut h2 = u64::from(seed);
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let mut k1 = word(&block[..8]);
        let mut k2 = word(&block[8..]);
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    if tail.len() > 8 {
        let k2 = word(&tail[8..]);
        h2 ^= k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
    }
    if !tail.is_empty() {
        let k1 = word(&tail[..tail.len().min(8)]);
        h1 ^= k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    [h1, h2]
}

/// Task Bench's `random_uniform` of a key of C `long`s: a value in [0, 1).
pub fn random_uniform(key: &[i64]) -> f64 {
    let bytes: Vec<u8> = key.iter().flat_map(|k| k.to_le_bytes()).collect();
    let bits = murmur3_x64_128(&bytes, SEED);
    bits[0] as f64 * (1.0 / 18_446_744_073_709_551_616.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(murmur3_x64_128(b"", 0), [0, 0]);
        // The reference value published with MurmurHash3 test suites.
        assert_eq!(
            murmur3_x64_128(b"The quick brown fox jumps over the lazy dog", 0),
            [0xe34b_bc7b_bc07_1b6c, 0x7a43_3ca9_c49a_9347]
        );
    }

    #[test]
    fn uniform_in_range() {
        for i in 0..1000 {
            let v = random_uniform(&[0, i, 7]);
            assert!((0.0..1.0).contains(&v));
        }
    }
}
