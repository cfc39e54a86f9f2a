//! dirk runs task graphs across HPC clusters: one SPMD executable started by `mpirun` or
//! Slurm. Rank 0 reads a job, builds and partitions the task graph and sends each rank its
//! share; each rank runs its share on a rayon pool; values move between ranks by MPI
//! point-to-point messages; HDF5 holds inputs and results.
//!
//! The library API mirrors Dagger.jl's `spawn`/`fetch`:
//!
//! ```no_run
//! use dirk::kernels::{Mul, Rand, Sum};
//! use dirk::{Arg, DType, Graph, Op, Runtime, Settings};
//! let rt = Runtime::init().expect("MPI");
//! let mut g = Graph::new();
//! let x = g.spawn(Op::new(Rand { seed: 1, dtype: DType::F64 }), [Arg::Shape(vec![1000])]).unwrap();
//! let y = g.spawn(Op::new(Mul), [x.into(), 2.0.into()]).unwrap();
//! let s = g.spawn(Op::new(Sum), [y.into()]).unwrap();
//! let result = rt.run(&g, &Settings::default()).unwrap();
//! if rt.rank() == 0 {
//!     println!("sum = {:?}", result.fetch(s));
//! }
//! ```
//!
//! See ARCHITECTURE.md for the module map and the invariants.

#![warn(missing_docs, unreachable_pub)]

// `dirk::` paths inside the crate: the command line (`cli.rs`) reads as a client of the library.
extern crate self as dirk;

mod cli;

pub mod device;
pub mod graph;
pub mod job;
pub mod kernels;
pub mod logging;
pub mod plan;
pub mod registry;
pub mod runtime;
pub mod sched;
pub mod store;
pub mod taskbench;
pub mod tiles;
pub mod trace;
pub mod transport;

pub use cli::main_with;
pub use graph::{Arg, DType, Graph, Handle, Op, Value};
pub use registry::Registry;
pub use runtime::{RunResult, Runtime, Settings};
