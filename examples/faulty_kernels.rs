//! How dirk reports an application kernel that fails: `faulty::panic` panics, `faulty::error`
//! returns an error, `faulty::shape` returns a result of another shape than its shape rule
//! said, `faulty::dtype` one of another dtype. Each fails its task: exit 1 on every rank,
//! with a message naming the task, the kernel, the rank and the kernel's own words
//! (`tests/it/apps.rs` runs them).
//!
//! ```text
//! cargo build --release --example faulty_kernels
//! mpirun -n 2 target/release/examples/faulty_kernels run JOB.json
//! ```

use dirk::graph::{Array, Data};
use dirk::registry::{BoxError, Registry};
use std::process::ExitCode;

fn main() -> ExitCode {
    let table = Registry::with_builtins()
        .kernel("faulty::panic", |k| {
            k.args("[a]", 1)
                .cpu(|_, _| -> Result<f64, BoxError> { panic!("kaput: the mesh is inverted") })
        })
        .kernel("faulty::error", |k| {
            k.args("[a]", 1)
                .cpu(|_, _| -> Result<f64, BoxError> { Err("solver diverged at step 7".into()) })
        })
        .kernel("faulty::shape", |k| {
            k.args("[a]", 1)
                .cpu(|_, _| Ok(Array::new(vec![3], Data::F64(vec![0.0; 3]))))
        })
        .kernel("faulty::dtype", |k| {
            k.args("[a]", 1).cpu(|i, _| {
                let a = i.array(0)?;
                Ok(Array::new(a.shape().to_vec(), Data::U8(vec![0; a.len()])))
            })
        });
    dirk::main_with(table)
}
