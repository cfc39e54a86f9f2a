//! Task Bench's deterministic random numbers (`core/core_random.c` of StanfordLegion/task-bench
//! at bf4ad19): SipHash-2-4 with a 64-bit output, keyed with the bytes 1, 2, …, 15, 0, of the
//! key's C `long`s laid out in memory (8 little-endian bytes each, on the x86-64 and AArch64
//! Linux targets Task Bench runs on); the 64 bits, converted to a double (rounded to nearest,
//! as C's `(double)` does) and scaled by 2⁻⁶⁴, give a value in [0, 1]. Used by `load_imbalance`
//! (per-task iteration counts) and `random_nearest` (which neighbours are connected), so dirk
//! draws exactly the values Task Bench draws.

/// Task Bench's SipHash key: `{1, 2, …, 15}` with the sixteenth byte left 0.
const KEY: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0];

/// One SipRound on the state (v0, v1, v2, v3).
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-2-4 of `data` under `key`, 64-bit output (Aumasson and Bernstein, "SipHash: a fast
/// short-input PRF", 2012): the output as the little-endian u64 the reference code writes.
pub fn siphash24(key: &[u8; 16], data: &[u8]) -> u64 {
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let (k0, k1) = (word(&key[..8]), word(&key[8..]));
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let compress = |v: &mut [u64; 4], m: u64| {
        v[3] ^= m;
        sip_round(v);
        sip_round(v);
        v[0] ^= m;
    };
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        compress(&mut v, word(block));
    }
    // The last block: the remaining bytes, the length's low byte in the top byte.
    let mut last = [0u8; 8];
    let tail = blocks.remainder();
    last[..tail.len()].copy_from_slice(tail);
    last[7] = data.len() as u8;
    compress(&mut v, u64::from_le_bytes(last));
    v[2] ^= 0xff;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// Task Bench's `gen_bits` of a key of C `long`s: 64 uniformly distributed bits.
pub fn random_bits(key: &[i64]) -> u64 {
    let mut bytes = [0u8; 64];
    assert!(key.len() <= 8, "Task Bench's keys have at most 5 longs");
    for (chunk, k) in bytes.chunks_exact_mut(8).zip(key) {
        chunk.copy_from_slice(&k.to_le_bytes());
    }
    siphash24(&KEY, &bytes[..key.len() * 8])
}

/// Task Bench's `random_uniform` of a key of C `long`s: `(double)bits * 0x1p-64`, a value in
/// [0, 1) except that the top 2¹⁰ bit patterns round up to exactly 1.0, as in C.
pub fn random_uniform(key: &[i64]) -> f64 {
    random_bits(key) as f64 * (1.0 / 18_446_744_073_709_551_616.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SipHash-2-4's published test vectors: key 00 01 … 0f, messages 00, 00 01, …, of
    /// lengths 0 to 63 (the reference implementation's `vectors.h`; entry 15 is the worked
    /// example of the SipHash paper's appendix A).
    const PAPER_VECTORS: [u64; 64] = [
        0x726f_db47_dd0e_0e31,
        0x74f8_39c5_93dc_67fd,
        0x0d6c_8009_d9a9_4f5a,
        0x8567_6696_d7fb_7e2d,
        0xcf27_94e0_2771_87b7,
        0x1876_5564_cd99_a68d,
        0xcbc9_466e_58fe_e3ce,
        0xab02_00f5_8b01_d137,
        0x93f5_f579_9a93_2462,
        0x9e00_82df_0ba9_e4b0,
        0x7a5d_bbc5_94dd_b9f3,
        0xf4b3_2f46_226b_ada7,
        0x751e_8fbc_860e_e5fb,
        0x14ea_5627_c084_3d90,
        0xf723_ca90_8e7a_f2ee,
        0xa129_ca61_49be_45e5,
        0x3f2a_cc7f_57c2_9bdb,
        0x699a_e9f5_2cbe_4794,
        0x4bc1_b3f0_968d_d39c,
        0xbb6d_c91d_a779_61bd,
        0xbed6_5cf2_1aa2_ee98,
        0xd0f2_cbb0_2e3b_67c7,
        0x9353_6795_e3a3_3e88,
        0xa80c_038c_cd5c_cec8,
        0xb8ad_50c6_f649_af94,
        0xbce1_92de_8a85_b8ea,
        0x17d8_35b8_5bbb_15f3,
        0x2f2e_6163_076b_cfad,
        0xde4d_aaac_a71d_c9a5,
        0xa6a2_5066_8795_6571,
        0xad87_a353_5c49_ef28,
        0x32d8_92fa_d841_c342,
        0x7127_512f_72f2_7cce,
        0xa7f3_2346_f959_78e3,
        0x12e0_b01a_bb05_1238,
        0x15e0_34d4_0fa1_97ae,
        0x314d_ffbe_0815_a3b4,
        0x0279_90f0_2962_3981,
        0xcadc_d4e5_9ef4_0c4d,
        0x9abf_d876_6a33_735c,
        0x0e3e_a96b_5304_a7d0,
        0xad0c_42d6_fc58_5992,
        0x1873_06c8_9bc2_15a9,
        0xd4a6_0abc_f379_2b95,
        0xf935_451d_e4f2_1df2,
        0xa953_8f04_1975_5787,
        0xdb9a_cddf_f56c_a510,
        0xd06c_98cd_5c09_75eb,
        0xe612_a3cb_9ecb_a951,
        0xc766_e62c_fcad_af96,
        0xee64_435a_9752_fe72,
        0xa192_d576_b245_165a,
        0x0a87_87bf_8ecb_74b2,
        0x81b3_e73d_20b4_9b6f,
        0x7fa8_220b_a3b2_ecea,
        0x2457_31c1_3ca4_2499,
        0xb78d_bfaf_3a8d_83bd,
        0xea1a_d565_322a_1a0b,
        0x60e6_1c23_a379_5013,
        0x6606_d7e4_4628_2b93,
        0x6ca4_ecb1_5c5f_91e1,
        0x9f62_6da1_5c96_25f3,
        0xe51b_3860_8ef2_5f57,
        0x958a_324c_eb06_4572,
    ];

    #[test]
    fn siphash24_matches_the_published_vectors() {
        let key: [u8; 16] = std::array::from_fn(|i| i as u8);
        let message: Vec<u8> = (0..64).collect();
        for (len, want) in PAPER_VECTORS.iter().enumerate() {
            assert_eq!(siphash24(&key, &message[..len]), *want, "length {len}");
        }
        assert_eq!(siphash24(&key, &message[..15]), 0xa129_ca61_49be_45e5);
    }

    /// Values printed by Task Bench's own `core_random.c` (commit bf4ad19, built with gcc 12
    /// -O3 and called from `tests/taskbench_ref/driver.cc --uniform KEY…`): the bits of
    /// `gen_bits` and `random_uniform` (printed with %.17g, written here in the shortest form
    /// that reads back as the same double).
    #[test]
    fn random_uniform_matches_task_bench_core_random() {
        let cases: [(&[i64], u64, f64); 6] = [
            (&[0, 0, 0], 0xefe8_8ae8_71c9_0c00, 0.937_142_068_623_675_6),
            (&[1, 2, 3], 0x8674_34af_b9d3_285e, 0.525_210_659_887_147_7),
            (&[0, 7, 5], 0x7c20_c33b_bc5d_819e, 0.484_874_918_064_056_36),
            (
                &[0, 3, 0, 1, 2],
                0xeab8_2569_a66b_7194,
                0.916_872_347_157_932_1,
            ),
            (
                &[2, 5, 1, 7, 6],
                0xafbc_b06c_0889_5c20,
                0.686_472_917_914_704,
            ),
            (
                &[0, 3, 2, 4, 4],
                0x6b1b_879f_dd61_b79c,
                0.418_388_821_153_15,
            ),
        ];
        for (key, bits, uniform) in cases {
            assert_eq!(random_bits(key), bits, "bits of {key:?}");
            assert_eq!(random_uniform(key), uniform, "uniform of {key:?}");
        }
    }

    #[test]
    fn uniform_in_range() {
        for i in 0..1000 {
            let v = random_uniform(&[0, i, 7]);
            assert!((0.0..1.0).contains(&v));
        }
    }
}
