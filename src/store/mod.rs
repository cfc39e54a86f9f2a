//! What outlives the process, in HDF5: job inputs (`load`), the `--output` file, checkpoints,
//! and the whole-or-nothing file helper that every writer uses.

mod atomic;
pub mod checkpoint;
mod error;
mod input;
mod output;
mod paths;
mod window;

pub use atomic::{check_writable, write_file_atomic, write_json_atomic, AtomicPath};
pub use error::StoreError;
pub use input::{probe_dataset, read_dataset};
pub use output::{dataset_name_problem, write_outputs, OutputMeta, MAX_DIMS};
pub use paths::{check_results, require_regular, result_path_problem};
pub use window::read_window;
