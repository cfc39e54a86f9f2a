//! Errors of the HDF5 layer: which file, which dataset, what went wrong.

use std::path::PathBuf;
use thiserror::Error;

/// An input, output or checkpoint file operation failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The file could not be opened or created.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        why: String,
    },
    /// A dataset is missing, of an unsupported type, or could not be read or written.
    #[error("{path}: dataset {dataset}: {why}")]
    Dataset {
        /// The file.
        path: PathBuf,
        /// The dataset path inside the file.
        dataset: String,
        /// The cause.
        why: String,
    },
}

impl StoreError {
    pub(crate) fn file(path: &std::path::Path, why: impl ToString) -> StoreError {
        StoreError::File {
            path: path.to_path_buf(),
            why: why.to_string(),
        }
    }

    pub(crate) fn dataset(path: &std::path::Path, dataset: &str, why: impl ToString) -> StoreError {
        StoreError::Dataset {
            path: path.to_path_buf(),
            dataset: dataset.to_string(),
            why: why.to_string(),
        }
    }
}
