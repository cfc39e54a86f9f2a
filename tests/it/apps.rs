//! Rust applications on `dirk::main_with` with their own kernels (issue 22): the example app
//! `examples/heat_app.rs` checks itself under mpirun at 2 and 3 ranks; its job file's results
//! equal a sequential computation done here (rand re-derived, heat steps, axpy, the
//! fixed-order sum); its `info` lists the kernel table.

use crate::common::{bits, p, read_f64, scratch, DIRK};
use crate::reference::{fixed_order_sum, heat, rand_f64};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The example binary, built once (`cargo build --release --example heat_app`).
fn heat_app() -> &'static str {
    static APP: OnceLock<PathBuf> = OnceLock::new();
    let path = APP.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--example", "heat_app"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(st.success(), "cargo build --example heat_app failed");
        let dirk = PathBuf::from(DIRK);
        dirk.parent().unwrap().join("examples").join("heat_app")
    });
    path.to_str().unwrap()
}

/// `timeout 120 mpirun -n N heat_app ARGS`: exit code and everything printed.
fn app(n: u32, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new("timeout")
        .arg("120")
        .args([
            "mpirun",
            "-n",
            &n.to_string(),
            "--oversubscribe",
            "--bind-to",
            "none",
        ])
        .arg(heat_app())
        .args(args)
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
