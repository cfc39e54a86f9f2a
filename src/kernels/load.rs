//! `load` and `load_tile`: an HDF5 dataset, whole (a job file names it) or the window of a
//! tile (the workload generators' `init` files). The dataset is probed when the job is
//! loaded, so its type is known statically and a missing input fails before anything runs.

use super::{Input, KernelError};
use crate::graph::{ArgType, DType, Value, ValueType};
use crate::job::{resolve_input, JobError, Params};
use crate::registry::{Builtin, CostArgs};
use crate::store;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `load`: an HDF5 dataset, probed at validation time so its type is known statically.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// Path of the HDF5 file (resolved when the job was loaded).
    pub file: String,
    /// Dataset path inside the file.
    pub dataset: String,
    /// The dataset's type as found when the job was validated.
    pub ty: ValueType,
}

impl Builtin for Load {
    const NAME: &'static str = "load";
    const ARGS: &'static str = "[]";
    const ARITY: Option<usize> = Some(0);
    const IN_JOBS: bool = true;
    crate::builtin_record!();

    fn parse(p: &mut Params<'_>, base: &Path) -> Result<Self, JobError> {
        let file = p.str("file")?;
        let dataset = p.str("dataset")?;
        let path = resolve_input(file, base);
        let ty =
            store::probe_dataset(&path, dataset).map_err(|e| p.error("file", e.to_string()))?;
        Ok(Load {
            file: path.display().to_string(),
            dataset: dataset.to_string(),
            ty,
        })
    }

    fn infer(&self, _: &[ArgType<'_>]) -> Result<ValueType, String> {
        Ok(self.ty.clone())
    }

    fn run(&self, _: &[Input<'_>]) -> Result<Value, KernelError> {
        store::read_dataset(Path::new(&self.file), &self.dataset, &self.ty)
            .map_err(|e| KernelError(e.to_string()))
    }

    fn cost_ns(&self, _: &CostArgs<'_>) -> f64 {
        50_000.0 + self.ty.bytes() as f64
    }

    fn input_file(&self) -> Option<&str> {
        Some(&self.file)
    }
}

/// `load_tile`: the window at `offset` of an HDF5 dataset, read as `dtype` (HDF5 converts).
/// No args.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadTile {
    /// Path of the HDF5 file (resolved when the job was loaded).
    pub file: String,
    /// Dataset path inside the file.
    pub dataset: String,
    /// Element type of the result.
    pub dtype: DType,
    /// Where the window starts.
    pub offset: Vec<usize>,
    /// Extent of the window.
    pub shape: Vec<usize>,
}

impl Builtin for LoadTile {
    const NAME: &'static str = "load_tile";
    const ARGS: &'static str = "[]";
    const ARITY: Option<usize> = Some(0);
    crate::builtin_record!();

    fn infer(&self, _: &[ArgType<'_>]) -> Result<ValueType, String> {
        Ok(ValueType::Array {
            dtype: self.dtype,
            shape: self.shape.clone(),
        })
    }

    fn run(&self, _: &[Input<'_>]) -> Result<Value, KernelError> {
        let file = Path::new(&self.file);
        store::read_window(file, &self.dataset, self.dtype, &self.offset, &self.shape)
            .map_err(|e| KernelError(e.to_string()))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        50_000.0 + c.out.bytes() as f64
    }

    fn input_file(&self) -> Option<&str> {
        Some(&self.file)
    }
}
