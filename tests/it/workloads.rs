//! The tiled workloads (`life`, `heat`, `conv2d`, `gemm`, `cholesky`, `reduce`) run by the
//! real binary under `mpirun` at 1, 2, 3 and 4 ranks, checked against sequential reference
//! implementations written here (they share no code with dirk's kernels), and checked to be
//! bit-identical across rank and thread counts. Also: parameter mistakes exit 2 naming the
//! JSON path.

use crate::reference::{
    cholesky_residual, conv2d, fixed_order_sum, heat, life, rand_cell, rand_f64, seeded_spd,
};
use std::path::{Path, PathBuf};
use std::process::Command;

const RANKS: [usize; 4] = [1, 2, 3, 4];

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dirk-workloads-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `job` (JSON text) on `ranks` ranks and returns the output file.
fn run(dir: &Path, job: &str, ranks: usize) -> PathBuf {
    let job_path = dir.join("job.json");
    std::fs::write(&job_path, job).unwrap();
    let out = dir.join(format!("out{ranks}.h5"));
    let threads = 1 + ranks % 2;
    let o = crate::common::mpirun_command(
        ranks as u32,
        120,
        &[],
        &[
            "run",
            job_path.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--threads",
            &threads.to_string(),
        ],
    )
    .output()
    .expect("mpirun starts");
    crate::common::assert_no_mpi_warning(o.status.code(), &String::from_utf8_lossy(&o.stderr));
    assert!(
        o.status.success(),
        "{ranks} ranks: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn read<T: hdf5::H5Type>(file: &Path, dataset: &str) -> Vec<T> {
    let f = hdf5::File::open(file).unwrap();
    f.dataset(dataset).unwrap().read_raw::<T>().unwrap()
}

fn shape(file: &Path, dataset: &str) -> Vec<usize> {
    hdf5::File::open(file)
        .unwrap()
        .dataset(dataset)
        .unwrap()
        .shape()
}

fn write<T: hdf5::H5Type>(file: &hdf5::File, name: &str, shape: &[usize], v: &[T]) {
    file.new_dataset::<T>()
        .shape(shape)
        .create(name)
        .unwrap()
        .write_raw(v)
        .unwrap();
}

/// Runs `job` at every rank count; asserts the dataset is bit-identical across them and
/// returns it.
fn run_everywhere<T: hdf5::H5Type + PartialEq + std::fmt::Debug>(
    dir: &Path,
    job: &str,
    dataset: &str,
) -> Vec<T> {
    let mut first: Option<Vec<T>> = None;
    for n in RANKS {
        let v = read::<T>(&run(dir, job, n), dataset);
        match &first {
            None => first = Some(v),
            Some(f) => assert!(*f == v, "{dataset} at {n} ranks differs from 1 rank"),
        }
    }
    first.unwrap()
}

/// A small deterministic generator for test data (an LCG; nothing to do with dirk's).
fn test_values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

/// A glider on a 16×16 torus cut into 3×3 uneven tiles: after 64 steps it has crossed tile
/// and rank boundaries and wrapped around both edges back to where it started.
#[test]
fn life_glider_wraps_around_a_periodic_grid() {
    let dir = scratch("glider");
    let (h, w) = (16, 16);
    let mut g = vec![0u8; h * w];
    for (i, j) in [(3, 4), (4, 5), (5, 3), (5, 4), (5, 5)] {
        g[i * w + j] = 1;
    }
    let f = hdf5::File::create(dir.join("init.h5")).unwrap();
    write(&f, "grid", &[h, w], &g);
    drop(f);
    let job = r#"{"dirk": 1, "workload": {"kind": "life", "grid": [16, 16], "tiles": [3, 3],
        "steps": 64, "boundary": "periodic", "init": {"file": "init.h5", "dataset": "grid"}}}"#;
    let got = run_everywhere::<u8>(&dir, job, "grid");
    assert_eq!(got, life(g.clone(), h, w, true, 64));
    assert_eq!(got, g, "the glider should be back where it started");
    // Halfway it is elsewhere: the test above cannot pass by doing nothing.
    let half = life(g.clone(), h, w, true, 32);
    assert_ne!(half, g);
    assert_eq!(half.iter().filter(|&&x| x == 1).count(), 5);
}

/// A random grid with dead boundaries and ragged tiles, from the seed.
#[test]
fn life_random_dead_boundary_matches_the_reference() {
    let dir = scratch("life-dead");
    let (h, w, steps) = (37, 50, 12);
    let job = r#"{"dirk": 1, "workload": {"kind": "life", "grid": [37, 50], "tiles": [3, 4],
        "steps": 12, "boundary": "dead", "seed": 5}}"#;
    let got = run_everywhere::<u8>(&dir, job, "grid");
    let init: Vec<u8> = (0..h * w).map(|i| rand_cell(5, i)).collect();
    assert_eq!(got, life(init, h, w, false, steps));
}

/// Periodic row strips, column strips and a single tile: one tile column (or row, or both),
/// so a tile is its own w and e (or n and s) side and reads each corner from a side's strip
/// (`graph::stencil`); each must still see the neighbour's cells, its own wrapped around.
#[test]
fn life_on_periodic_strips_matches_the_reference() {
    let (h, w, steps) = (23, 19, 9);
    let init: Vec<u8> = (0..h * w).map(|i| rand_cell(8, i)).collect();
    let want = life(init, h, w, true, steps);
    for tiles in ["[4, 1]", "[1, 3]", "[1, 1]"] {
        let digits: String = tiles.chars().filter(char::is_ascii_digit).collect();
        let dir = scratch(&format!("life-strips-{digits}"));
        let job = format!(
            r#"{{"dirk": 1, "workload": {{"kind": "life", "grid": [23, 19], "tiles": {tiles},
            "steps": 9, "boundary": "periodic", "seed": 8}}}}"#
        );
        let got = run_everywhere::<u8>(&dir, &job, "grid");
        assert_eq!(got, want, "tiles {tiles}");
    }
}

/// Deep halos (`halo` k): strips k deep exchanged every k steps, ghost cells computed in
/// between. Ragged tiles with dead edges (ghost cells only where a neighbour lies, a run of
/// 13 steps that does not divide by k), periodic row strips and 2-D tiles (ghost columns and
/// corners), one tile along an axis (its own neighbour there), a halo as deep as the
/// smallest tile side (12), and one deeper than the run (40 > 13 steps: strips 13 deep, so
/// not held to 16, the smallest side): each matches the reference, which knows nothing of
/// tiles or halos, at 1-4 ranks.
#[test]
fn life_with_deep_halos_matches_the_reference() {
    let (h, w, steps) = (37, 50, 13);
    let init: Vec<u8> = (0..h * w).map(|i| rand_cell(6, i)).collect();
    for (tiles, boundary, halo) in [
        ("[3, 4]", "dead", 4),
        ("[5, 1]", "periodic", 3),
        ("[2, 3]", "periodic", 5),
        ("[1, 4]", "periodic", 5),
        ("[1, 1]", "periodic", 4),
        ("[3, 4]", "periodic", 12),
        ("[2, 3]", "dead", 40),
    ] {
        let digits: String = tiles.chars().filter(char::is_ascii_digit).collect();
        let dir = scratch(&format!("life-halo-{digits}-{halo}"));
        let job = format!(
            r#"{{"dirk": 1, "workload": {{"kind": "life", "grid": [37, 50], "tiles": {tiles},
            "steps": 13, "boundary": "{boundary}", "seed": 6, "halo": {halo}}}}}"#
        );
        let got = run_everywhere::<u8>(&dir, &job, "grid");
        let want = life(init.clone(), h, w, boundary == "periodic", steps);
        assert_eq!(got, want, "tiles {tiles}, {boundary}, halo {halo}");
    }
}

#[test]
fn heat_matches_the_reference() {
    let dir = scratch("heat");
    let (h, w, steps, alpha) = (30, 41, 15, 0.2);
    let u0 = test_values(h * w, 1);
    let f = hdf5::File::create(dir.join("init.h5")).unwrap();
    write(&f, "u0", &[h, w], &u0);
    drop(f);
    let job = r#"{"dirk": 1, "workload": {"kind": "heat", "grid": [30, 41], "tiles": [4, 3],
        "steps": 15, "alpha": 0.2, "init": {"file": "init.h5", "dataset": "u0"}}}"#;
    let got = run_everywhere::<f64>(&dir, job, "u");
    let u = heat(u0.clone(), h, w, alpha, steps);
    let err = got
        .iter()
        .zip(&u)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err <= 1e-12, "max error {err}");
    assert_ne!(got, u0, "the interior must change");
    for j in 0..w {
        assert_eq!(got[j], u0[j], "the outer ring keeps its values");
    }
}

#[test]
fn conv2d_matches_the_reference() {
    let dir = scratch("conv2d");
    let (h, w) = (33, 29);
    let (kh, kw) = (5, 3);
    let img = test_values(h * w, 2);
    let k: Vec<f64> = (0..kh * kw).map(|i| i as f64 * 0.25 - 1.0).collect();
    let f = hdf5::File::create(dir.join("img.h5")).unwrap();
    write(&f, "img", &[h, w], &img);
    drop(f);
    let rows: Vec<String> = k
        .chunks(kw)
        .map(|r| {
            format!(
                "[{}]",
                r.iter()
                    .map(|x| format!("{x:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    let job = format!(
        r#"{{"dirk": 1, "workload": {{"kind": "conv2d", "image": [33, 29], "tiles": [4, 3],
        "kernel": [{}], "init": {{"file": "img.h5", "dataset": "img"}}}}}}"#,
        rows.join(", ")
    );
    let got = run_everywhere::<f64>(&dir, &job, "out");
    let want = conv2d(&img, h, w, &k, kh, kw);
    let err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err <= 1e-12, "max error {err}");
}

#[test]
fn gemm_matches_a_naive_product() {
    let dir = scratch("gemm");
    let (m, k, n) = (70, 50, 61);
    let a = test_values(m * k, 3);
    let b = test_values(k * n, 4);
    let f = hdf5::File::create(dir.join("ab.h5")).unwrap();
    write(&f, "A", &[m, k], &a);
    write(&f, "B", &[k, n], &b);
    drop(f);
    let job = r#"{"dirk": 1, "workload": {"kind": "gemm", "m": 70, "k": 50, "n": 61, "tile": 16,
        "init": {"file": "ab.h5"}}}"#;
    let got = run_everywhere::<f64>(&dir, job, "C");
    assert_eq!(shape(&dir.join("out1.h5"), "C"), vec![m, n]);
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for i in 0..m {
        for j in 0..n {
            let c: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            diff += (got[i * n + j] - c).powi(2);
            norm += c * c;
        }
    }
    let rel = (diff / norm).sqrt();
    assert!(rel < 1e-12, "relative residual {rel}");
}

#[test]
fn cholesky_factor_reproduces_the_matrix() {
    let dir = scratch("cholesky");
    let (n, seed) = (100, 9);
    let job = r#"{"dirk": 1, "workload": {"kind": "cholesky", "n": 100, "tile": 24, "seed": 9}}"#;
    let l = run_everywhere::<f64>(&dir, job, "L");
    // The documented seed-generated matrix: (R + Rᵀ)/2 + n·I, R = rand(seed, [n, n]).
    let rel = cholesky_residual(&l, &seeded_spd(seed, n), n);
    assert!(rel < 1e-12, "‖LLᵀ − A‖/‖A‖ = {rel}");
}

#[test]
fn reduce_equals_the_fixed_order_sum() {
    let dir = scratch("reduce");
    let (n, chunks) = (100_003usize, 7usize);
    let job =
        r#"{"dirk": 1, "workload": {"kind": "reduce", "n": 100003, "chunks": 7, "seed": 11}}"#;
    let got = run_everywhere::<f64>(&dir, job, "sum")[0];
    // The documented order: chunk c is [c·n/C, (c+1)·n/C); a chunk is summed in pieces of
    // 8192 values left to right, pieces added left to right; chunk sums left to right.
    let x: Vec<f64> = (0..n).map(|i| rand_f64(11, i)).collect();
    let mut total = 0.0;
    for c in 0..chunks {
        let s = fixed_order_sum(&x[c * n / chunks..(c + 1) * n / chunks]);
        total = if c == 0 { s } else { total + s };
    }
    assert_eq!(
        got.to_bits(),
        total.to_bits(),
        "got {got}, expected {total}"
    );
}

/// `dirk validate` on a workload: exit status and stderr.
fn validate(dir: &Path, workload: &str) -> (i32, String) {
    let job = dir.join("bad.json");
    std::fs::write(&job, format!(r#"{{"dirk": 1, "workload": {workload}}}"#)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_dirk"))
        .arg("validate")
        .arg(&job)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn bad_parameters_exit_2_naming_the_json_path() {
    let dir = scratch("bad");
    let cases = [
        (
            r#"{"kind": "life", "grid": [8, 8], "tiles": [9, 1], "steps": 1}"#,
            "workload.tiles",
        ),
        (
            r#"{"kind": "life", "grid": [8, 8], "tiles": [2, 2], "steps": 1, "boundary": "x"}"#,
            "workload.boundary",
        ),
        (
            r#"{"kind": "life", "grid": [8, 8], "tiles": [4, 1], "steps": 3, "halo": 3}"#,
            "workload.halo",
        ),
        (
            r#"{"kind": "life", "grid": [8, 8], "tiles": [2, 2], "steps": 3, "halo": 0}"#,
            "workload.halo",
        ),
        (
            // Strips as deep as the run (3), still deeper than the 2-row tiles.
            r#"{"kind": "life", "grid": [8, 8], "tiles": [4, 1], "steps": 3, "halo": 40}"#,
            "workload.halo",
        ),
        (
            r#"{"kind": "heat", "grid": [8, 8], "tiles": [2, 2], "steps": 1, "alpha": 0.3}"#,
            "workload.alpha",
        ),
        (
            r#"{"kind": "conv2d", "image": [8, 8], "tiles": [2, 2], "kernel": [[1, 2]]}"#,
            "workload.kernel",
        ),
        (
            r#"{"kind": "conv2d", "image": [8, 8], "tiles": [8, 1], "kernel": [[1], [2], [3], [4], [5]]}"#,
            "workload.tiles",
        ),
        (
            r#"{"kind": "gemm", "m": 4, "k": 4, "n": 4, "tile": 0}"#,
            "workload.tile",
        ),
        (
            r#"{"kind": "cholesky", "n": 4, "tile": 2, "init": {"file": "nope.h5", "dataset": "A"}}"#,
            "workload.init.file",
        ),
        (
            r#"{"kind": "reduce", "n": 4, "chunks": 2, "colour": 1}"#,
            "workload.colour",
        ),
    ];
    for (workload, path) in cases {
        let (code, err) = validate(&dir, workload);
        assert_eq!(code, 2, "{workload}: {err}");
        assert!(err.contains(path), "{workload}: expected {path} in {err}");
    }
}

/// The datasets of an output file, sorted.
fn datasets(file: &Path) -> Vec<String> {
    let mut names = hdf5::File::open(file).unwrap().member_names().unwrap();
    names.sort();
    names
}

#[test]
fn outputs_replace_a_workloads_own() {
    let dir = scratch("outputs");
    // A workload's dataset name (a tiled one) or any task id, nothing added.
    let out = run(
        &dir,
        r#"{"dirk": 1, "workload": {"kind": "life", "grid": [8, 8], "tiles": [2, 2], "steps": 2},
           "outputs": ["grid"]}"#,
        2,
    );
    assert_eq!(datasets(&out), ["grid"]);
    assert_eq!(shape(&out, "grid"), [8, 8]);
    let out = run(
        &dir,
        r#"{"dirk": 1, "workload": {"kind": "diamond", "n": 4}, "outputs": ["d", "b"]}"#,
        1,
    );
    assert_eq!(datasets(&out), ["b", "d"]);
    // None at all: the file holds only its attributes.
    let out = run(
        &dir,
        r#"{"dirk": 1, "workload": {"kind": "diamond", "n": 4}, "outputs": []}"#,
        2,
    );
    assert!(datasets(&out).is_empty());
    let f = hdf5::File::open(&out).unwrap();
    assert_eq!(f.attr("ranks").unwrap().read_scalar::<u32>().unwrap(), 2);
}
