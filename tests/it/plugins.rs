//! C kernel plugins (issue 22, `include/dirk_plugin.h`): `examples/plugins/heat_plugin.c`,
//! compiled here with `cc`, named by a job with its SHA-256 (from `sha256sum`), runs under
//! plain `dirk` at 1–3 ranks with results equal to a sequential computation done here; a
//! kernel that returns non-zero fails its task (exit 1, its message, the task, the kernel,
//! the rank); a missing file, a foreign file (SHA-256), a library without `dirk_plugin_v1`
//! and an ABI version dirk does not know are bad input (exit 2 naming `plugins[0]`). A Fortran
//! plugin (`examples/plugins/scale_plugin.f90`, `bind(C)`, built with gfortran) gives
//! 2·x + 1 at 1–3 ranks.

use crate::common::{bits, dirk, mpirun, p, read_f64, scratch, skip, write_job};
use crate::reference::{heat, rand_f64};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Compiles C `source` (with `include/` on the path) into the shared library `dir/name`.
fn cc(dir: &Path, name: &str, source: &Path) -> PathBuf {
    let out = dir.join(name);
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-I"])
        .arg(&include)
        .arg(source)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run cc");
    assert!(st.success(), "cc {}", source.display());
    out
}

/// The SHA-256 of `file`, by coreutils' `sha256sum`.
fn sha256sum(file: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(file)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn heat_plugin(dir: &Path) -> (PathBuf, String) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins/heat_plugin.c");
    let lib = cc(dir, "libcheat.so", &src);
    let sha = sha256sum(&lib);
    (lib, sha)
}

#[test]
fn a_c_plugin_job_equals_a_sequential_computation_at_1_to_3_ranks() {
    let dir = scratch();
    let (_, sha) = heat_plugin(dir.path());
    let (h, w) = (48, 40);
    let job = write_job(
        dir.path(),
        "cheat.json",
        &json!({"dirk": 1, "name": "cheat",
            "plugins": [{"path": "libcheat.so", "sha256": sha}],
            "tasks": [
                {"id": "u0", "op": "rand", "args": [[h, w]], "params": {"seed": 5}},
                {"id": "v0", "op": "rand", "args": [[h, w]], "params": {"seed": 6}},
                {"id": "u1", "op": "cheat::heat5", "args": ["u0"], "params": {"alpha": 0.25}},
                {"id": "u2", "op": "cheat::heat5", "args": ["u1"], "params": {"alpha": 0.25}},
                {"id": "u3", "op": "cheat::heat5", "args": ["u2"], "params": {"alpha": 0.25}},
                {"id": "v1", "op": "cheat::heat5", "args": ["v0"], "params": {"alpha": 0.1}},
                {"id": "v2", "op": "cheat::heat5", "args": ["v1"], "params": {"alpha": 0.1}},
                {"id": "w", "op": "cheat::axpy", "args": ["u3", "v2"], "params": {"a": -0.5}}
            ],
            "outputs": ["w"]}),
    );
    let u: Vec<f64> = (0..h * w).map(|i| rand_f64(5, i)).collect();
    let v: Vec<f64> = (0..h * w).map(|i| rand_f64(6, i)).collect();
    let (u3, v2) = (heat(u, h, w, 0.25, 3), heat(v, h, w, 0.1, 2));
    let want: Vec<f64> = u3.iter().zip(&v2).map(|(u, v)| -0.5 * u + v).collect();
    for n in [1, 2, 3] {
        let out = dir.path().join(format!("o{n}.h5"));
        let r = mpirun(n, &["run", p(&job), "--output", p(&out)], 120);
        assert_eq!(r.code, Some(0), "{n} ranks:\n{}", r.text);
        assert_eq!(bits(&read_f64(&out, "w")), bits(&want), "{n} ranks");
    }
    // A plugin is an input: a result on it is refused, and the library stays as it was.
    let lib = dir.path().join("libcheat.so");
    let r = mpirun(2, &["run", p(&job), "--trace", p(&lib)], 60);
    assert_eq!(r.code, Some(2), "{}", r.text);
    assert!(r.text.contains("a kernel plugin"), "{}", r.text);
    assert_eq!(sha256sum(&lib), sha, "the plugin was overwritten");
}

#[test]
fn a_plugin_kernel_that_returns_non_zero_fails_its_task_with_exit_1() {
    let dir = scratch();
    let (_, sha) = heat_plugin(dir.path());
    let job = write_job(
        dir.path(),
        "fail.json",
        &json!({"dirk": 1, "plugins": [{"path": "libcheat.so", "sha256": sha}],
        "tasks": [
            {"id": "a", "op": "rand", "args": [[4, 4]]},
            {"id": "t", "op": "cheat::check", "args": ["a"], "params": {"fail": 1},
             "scope": {"rank": 1}}
        ]}),
    );
    let r = mpirun(2, &["run", p(&job)], 60);
    assert_eq!(r.code, Some(1), "{}", r.text);
    assert!(
        r.text.contains("task \"t\" failed on rank 1: kernel cheat::check: check failed on rank 1 as asked (cheat::check returned 3)"),
        "{}",
        r.text
    );
}

/// A plugin kernel's signature is checked when the job is loaded, like a built-in's: a
/// wrong argument count, or no array for the result to be typed like, is bad input (exit 2)
/// naming the task, before anything runs.
#[test]
fn a_plugin_kernel_with_wrong_arguments_is_bad_input_naming_the_task() {
    let dir = scratch();
    let d = dir.path();
    let (_, sha) = heat_plugin(d);
    let cases = [
        (
            json!({"id": "wrong_args", "op": "cheat::heat5", "args": ["u", "u"], "params": {"alpha": 0.1}}),
            "takes 1 argument",
        ),
        (
            json!({"id": "wrong_args", "op": "cheat::axpy", "args": [1.0, 2.0], "params": {"a": 1.0}}),
            "first array argument",
        ),
    ];
    for (i, (task, want)) in cases.into_iter().enumerate() {
        let job = write_job(
            d,
            &format!("sig{i}.json"),
            &json!({"dirk": 1, "plugins": [{"path": "libcheat.so", "sha256": sha}],
                "tasks": [{"id": "u", "op": "rand", "args": [[4, 4]]}, task]}),
        );
        for r in [
            dirk(&["validate", p(&job)]),
            mpirun(2, &["run", p(&job)], 60),
        ] {
            assert_eq!(r.code, Some(2), "{want}:\n{}", r.text);
            assert!(
                r.text.contains("wrong_args") && r.text.contains(want),
                "{want}:\n{}",
                r.text
            );
        }
    }
}

#[test]
fn bad_plugins_are_bad_input_naming_the_plugin() {
    let dir = scratch();
    let d = dir.path();
    let (_, sha) = heat_plugin(d);
    std::fs::write(
        d.join("nosym.c"),
        "int dirk_something_else(void) { return 0; }\n",
    )
    .unwrap();
    let nosym = cc(d, "libnosym.so", &d.join("nosym.c"));
    std::fs::write(
        d.join("abi99.c"),
        "#include \"dirk_plugin.h\"\nstatic const dirk_plugin p = {99, 0, 0};\n\
         const dirk_plugin *dirk_plugin_v1(void) { return &p; }\n",
    )
    .unwrap();
    let abi99 = cc(d, "libabi99.so", &d.join("abi99.c"));
    let cases = [
        (
            "libnothere.so".to_string(),
            sha.clone(),
            "cannot read plugin",
        ),
        ("libcheat.so".to_string(), "00".repeat(32), "has SHA-256"),
        (
            "libnosym.so".to_string(),
            sha256sum(&nosym),
            "has no symbol dirk_plugin_v1",
        ),
        (
            "libabi99.so".to_string(),
            sha256sum(&abi99),
            "has ABI version 99",
        ),
    ];
    for (i, (path, sha, want)) in cases.into_iter().enumerate() {
        let job = write_job(
            d,
            &format!("bad{i}.json"),
            &json!({"dirk": 1, "plugins": [{"path": path, "sha256": sha}],
                "tasks": [{"id": "a", "op": "rand", "args": [[4]]}]}),
        );
        let r = dirk(&["validate", p(&job)]);
        assert_eq!(r.code, Some(2), "{want}:\n{}", r.text);
        assert!(
            r.text.contains("plugins[0].path") && r.text.contains(want),
            "{want}:\n{}",
            r.text
        );
        let r = mpirun(2, &["run", p(&job)], 60);
        assert_eq!(r.code, Some(2), "{want} (run):\n{}", r.text);
    }
}

#[test]
fn a_fortran_plugin_job_equals_2x_plus_1_at_1_to_3_ranks() {
    let dir = scratch();
    let d = dir.path();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins/scale_plugin.f90");
    let lib = d.join("libfscale.so");
    let built = Command::new("gfortran")
        .args(["-shared", "-fPIC", "-O2", "-ffp-contract=off", "-J"])
        .arg(d)
        .arg(&src)
        .arg("-o")
        .arg(&lib)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        return skip("no gfortran: the Fortran plugin is not tested");
    }
    let job = write_job(
        d,
        "fscale.json",
        &json!({"dirk": 1, "plugins": [{"path": "libfscale.so", "sha256": sha256sum(&lib)}],
            "tasks": [
                {"id": "x", "op": "rand", "args": [[30, 17]], "params": {"seed": 9}},
                {"id": "y", "op": "fort::scale", "args": ["x"]}
            ],
            "outputs": ["y"]}),
    );
    let want: Vec<f64> = (0..30 * 17).map(|i| 2.0 * rand_f64(9, i) + 1.0).collect();
    for n in [1, 2, 3] {
        let out = d.join(format!("o{n}.h5"));
        let r = mpirun(n, &["run", p(&job), "--output", p(&out)], 120);
        assert_eq!(r.code, Some(0), "{n} ranks:\n{}", r.text);
        assert_eq!(bits(&read_f64(&out, "y")), bits(&want), "{n} ranks");
    }
}
