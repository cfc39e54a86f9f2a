//! Rust applications on `dirk::main_with` with their own kernels (issue 22): the example app
//! `examples/heat_app.rs` checks itself under mpirun at 2 and 3 ranks; its job file's results
//! equal a sequential computation done here (rand re-derived, heat steps, axpy, the
//! fixed-order sum); its `info` lists the kernel table. Rejections: an unknown kernel, wrong
//! arity, dtype or params (exit 2 naming the task); ranks started from different programs
//! (exit 2 naming the rank and the kernel). Failures (`examples/faulty_kernels.rs`): a
//! kernel that panics, returns an error, or a result of the wrong shape or dtype ends every
//! rank with exit 1 and a message naming the task, the kernel, the rank and its words.

use crate::common::{bits, dirk_bin, p, read_f64, scratch, write_job};
use crate::reference::{fixed_order_sum, heat, rand_f64};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The path of example `name`; the examples are built once
/// (`cargo build --release --example heat_app --example faulty_kernels`).
fn example(name: &str) -> String {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--release", "--quiet"])
            .args(["--example", "heat_app", "--example", "faulty_kernels"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(st.success(), "cargo build --example failed");
    });
    let dir = PathBuf::from(dirk_bin()).parent().unwrap().join("examples");
    dir.join(name).to_str().unwrap().to_string()
}

fn heat_app() -> String {
    example("heat_app")
}

/// `timeout 120 mpirun -n N heat_app ARGS`: exit code and everything printed.
fn app(n: u32, args: &[&str]) -> (Option<i32>, String) {
    mpmd(&[(n, heat_app(), args)])
}

/// `timeout 120 mpirun -n N1 PROG1 ARGS1 : -n N2 PROG2 ARGS2 ...` from the repository root.
fn mpmd(parts: &[(u32, String, &[&str])]) -> (Option<i32>, String) {
    let mut c = Command::new("timeout");
    c.arg("120")
        .args(["mpirun", "--oversubscribe", "--bind-to", "none"]);
    for (i, (n, prog, args)) in parts.iter().enumerate() {
        if i > 0 {
            c.arg(":");
        }
        c.args(["-n", &n.to_string()]).arg(prog).args(*args);
    }
    let out = c
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("run mpirun");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn heat_app_checks_itself_at_2_and_3_ranks() {
    for n in [2, 3] {
        let (code, text) = app(n, &["selfcheck"]);
        assert_eq!(code, Some(0), "{n} ranks:\n{text}");
        assert!(text.contains(&format!("heat_app: ok ({n} ranks")), "{text}");
    }
}

#[test]
fn heat_app_job_equals_a_sequential_computation() {
    let (h, w) = (64, 64);
    let u0: Vec<f64> = (0..h * w).map(|i| rand_f64(1, i)).collect();
    let v0: Vec<f64> = (0..h * w).map(|i| rand_f64(2, i)).collect();
    let u3 = heat(u0.clone(), h, w, 0.2, 3);
    let v3 = heat(v0.clone(), h, w, 0.1, 3);
    let want_w: Vec<f64> = u3.iter().zip(&v3).map(|(u, v)| 0.5 * u + v).collect();
    let want_s = fixed_order_sum(&want_w);
    let dir = scratch();
    for n in [1, 2, 3] {
        let out = dir.path().join(format!("out{n}.h5"));
        let (code, text) = app(n, &["run", "examples/heat_app.json", "--output", p(&out)]);
        assert_eq!(code, Some(0), "{n} ranks:\n{text}");
        assert_eq!(bits(&read_f64(&out, "u0")), bits(&u0), "{n} ranks: u0");
        assert_eq!(bits(&read_f64(&out, "v0")), bits(&v0), "{n} ranks: v0");
        assert_eq!(bits(&read_f64(&out, "w")), bits(&want_w), "{n} ranks: w");
        assert_eq!(read_f64(&out, "s"), vec![want_s], "{n} ranks: s");
    }
}

#[test]
fn heat_app_info_lists_its_kernels_beside_the_builtins() {
    let (code, text) = app(1, &["info"]);
    assert_eq!(code, Some(0), "{text}");
    for k in ["heat_app::heat5", "heat_app::axpy", "add", "matmul"] {
        assert!(text.contains(k), "{k} missing:\n{text}");
    }
    assert!(text.contains("[u] of f64"), "{text}");
}

/// A job of one f64 `rand` grid and one task `t` running `op` on it (with `params`), on
/// rank `rank` of the run.
fn one_task(
    dir: &std::path::Path,
    op: &str,
    args: serde_json::Value,
    params: serde_json::Value,
    rank: u32,
) -> PathBuf {
    let job = serde_json::json!({
        "dirk": 1,
        "tasks": [
            {"id": "g", "op": "rand", "args": [[8, 8]], "params": {"seed": 3}},
            {"id": "b", "op": "rand", "args": [[8, 8]], "params": {"dtype": "u8"}},
            {"id": "t", "op": op, "args": args, "params": params, "scope": {"rank": rank}}
        ],
        "outputs": ["t"]
    });
    write_job(dir, &format!("{}.json", op.replace("::", "_")), &job)
}

#[test]
fn unknown_kernels_and_wrong_arity_dtype_or_params_exit_2_naming_the_task() {
    let dir = scratch();
    let dir = dir.path();
    // Plain dirk has no heat_app kernels.
    let job = one_task(
        dir,
        "heat_app::heat5",
        serde_json::json!(["g"]),
        serde_json::json!({"alpha": 0.1}),
        0,
    );
    let (code, text) = mpmd(&[(1, dirk_bin().to_string(), &["validate", p(&job)])]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("unknown op \"heat_app::heat5\"") && text.contains("\"t\""),
        "{text}"
    );
    let cases = [
        (
            serde_json::json!(["g", "g"]),
            serde_json::json!({"alpha": 0.1}),
            "takes 1 argument",
        ),
        (
            serde_json::json!(["b"]),
            serde_json::json!({"alpha": 0.1}),
            "args[0] is u8; it accepts f64",
        ),
        (
            serde_json::json!(["g"]),
            serde_json::json!({"alfa": 0.1}),
            "unknown field `alfa`",
        ),
        (
            serde_json::json!(["g"]),
            serde_json::json!({}),
            "missing field `alpha`",
        ),
    ];
    for (args, params, want) in cases {
        let job = one_task(dir, "heat_app::heat5", args, params, 0);
        for verb in ["validate", "run"] {
            let (code, text) = app(2, &[verb, p(&job)]);
            assert_eq!(code, Some(2), "{verb} {want}:\n{text}");
            assert!(
                text.contains(want) && text.contains("(task \"t\")"),
                "{verb} {want}:\n{text}"
            );
        }
    }
}

#[test]
fn ranks_started_from_different_programs_exit_2_naming_the_rank_and_kernel() {
    let dir = scratch();
    let job = one_task(
        dir.path(),
        "heat_app::heat5",
        serde_json::json!(["g"]),
        serde_json::json!({"alpha": 0.1}),
        0,
    );
    let job = p(&job);
    let (code, text) = mpmd(&[
        (1, heat_app(), &["run", job]),
        (1, heat_app(), &["run", job]),
        (1, dirk_bin().to_string(), &["run", job]),
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("kernel heat_app::axpy is not registered on rank 2"),
        "{text}"
    );
    // The other way round: rank 0 is plain dirk, which cannot read the job at all; a job of
    // built-ins still finds the tables differ.
    let builtins = write_job(
        dir.path(),
        "b.json",
        &serde_json::json!({
            "dirk": 1, "tasks": [{"id": "x", "op": "rand", "args": [[4]]}]
        }),
    );
    let (code, text) = mpmd(&[
        (1, dirk_bin().to_string(), &["run", p(&builtins)]),
        (1, heat_app(), &["run", p(&builtins)]),
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("is registered on rank 1 but not on rank 0"),
        "{text}"
    );
}

#[test]
fn a_failing_kernel_ends_every_rank_with_exit_1_naming_task_kernel_rank_and_message() {
    let dir = scratch();
    let cases = [
        (
            "faulty::panic",
            "kernel faulty::panic panicked: kaput: the mesh is inverted",
        ),
        (
            "faulty::error",
            "kernel faulty::error: solver diverged at step 7",
        ),
        (
            "faulty::shape",
            "kernel faulty::shape returned a f64 array [3], the graph expects a f64 array [8, 8]",
        ),
        (
            "faulty::dtype",
            "kernel faulty::dtype returned a u8 array [8, 8], the graph expects a f64 array [8, 8]",
        ),
    ];
    for (op, want) in cases {
        let job = one_task(
            dir.path(),
            op,
            serde_json::json!(["g"]),
            serde_json::json!({}),
            1,
        );
        // Built (once) before the clock starts: the limit is for the run, not the build.
        let app = example("faulty_kernels");
        let start = std::time::Instant::now();
        let (code, text) = mpmd(&[(2, app, &["run", p(&job)])]);
        assert_eq!(code, Some(1), "{op}:\n{text}");
        assert!(
            text.contains("task \"t\" failed on rank 1"),
            "{op}:\n{text}"
        );
        assert!(text.contains(want), "{op}: want {want:?} in\n{text}");
        assert!(
            start.elapsed().as_secs() < 60,
            "{op}: every rank ends within seconds"
        );
    }
}
