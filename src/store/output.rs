//! The `--output` file: one dataset per output at `/<name>`, assembled from tiles, plus file
//! attributes naming the job, the dirk version and the rank count. Written on rank 0 only,
//! to a temporary file renamed into place when whole.

use super::atomic::AtomicPath;
use super::error::StoreError;
use crate::graph::{DType, Data, Output, Value, ValueType};
use hdf5::types::VarLenUnicode;
use hdf5::{H5Type, Hyperslab};
use std::path::Path;

/// The most dimensions an HDF5 dataset may have (`H5S_MAX_RANK`): a value with more can be
/// neither written to `--output` nor checkpointed.
pub const MAX_DIMS: usize = 32;

/// Why HDF5 cannot hold a dataset at `/<name>`, if it cannot: `.` names the root group
/// itself (checked with h5py and h5dump: `..`, `...` and names with `:` work).
pub fn dataset_name_problem(name: &str) -> Option<&'static str> {
    match name {
        "." => Some("\".\" names the file's root group, so it cannot be a dataset name"),
        _ => None,
    }
}

/// Metadata written as attributes of the output file's root group.
#[derive(Clone, Debug)]
pub struct OutputMeta<'a> {
    /// The job's name.
    pub job: &'a str,
    /// The number of ranks that ran it.
    pub ranks: u32,
}

/// Writes every output to `path`, whole or not at all. `value_of(task)` gives the value of an
/// output part's task.
pub fn write_outputs<'v>(
    path: &Path,
    outputs: &[Output],
    meta: &OutputMeta<'_>,
    value_of: impl Fn(u32) -> &'v Value,
) -> Result<(), StoreError> {
    let atomic = AtomicPath::new(path);
    {
        let file = hdf5::File::create(atomic.tmp()).map_err(|e| StoreError::file(path, e))?;
        let attr_err = |e: hdf5::Error| StoreError::file(path, e);
        let text = |s: &str| {
            s.parse::<VarLenUnicode>()
                .map_err(|e| StoreError::file(path, e))
        };
        let (job, version) = (text(meta.job)?, text(env!("CARGO_PKG_VERSION"))?);
        file.new_attr::<VarLenUnicode>()
            .shape(())
            .create("job")
            .and_then(|a| a.write_scalar(&job))
            .map_err(attr_err)?;
        file.new_attr::<VarLenUnicode>()
            .shape(())
            .create("dirk_version")
            .and_then(|a| a.write_scalar(&version))
            .map_err(attr_err)?;
        file.new_attr::<u32>()
            .shape(())
            .create("ranks")
            .and_then(|a| a.write_scalar(&meta.ranks))
            .map_err(attr_err)?;
        for out in outputs {
            write_one(&file, path, out, &value_of)?;
        }
        file.flush().map_err(|e| StoreError::file(path, e))?;
    }
    atomic.commit().map_err(|e| StoreError::file(path, e))
}

fn write_one<'v>(
    file: &hdf5::File,
    path: &Path,
    out: &Output,
    value_of: &impl Fn(u32) -> &'v Value,
) -> Result<(), StoreError> {
    let err = |e: hdf5::Error| StoreError::dataset(path, &out.name, e);
    let ValueType::Array { dtype, shape } = &out.ty else {
        let x = value_of(out.parts[0].task)
            .as_scalar()
            .expect("scalar output checked when marked");
        let ds = file
            .new_dataset::<f64>()
            .shape(())
            .create(out.name.as_str())
            .map_err(err)?;
        return ds.write_scalar(&x).map_err(err);
    };
    let ds = match dtype {
        DType::F64 => file.new_dataset::<f64>(),
        DType::F32 => file.new_dataset::<f32>(),
        DType::I64 => file.new_dataset::<i64>(),
        DType::U8 => file.new_dataset::<u8>(),
    }
    .shape(shape.as_slice())
    .create(out.name.as_str())
    .map_err(err)?;
    for part in &out.parts {
        let a = value_of(part.task)
            .as_array()
            .expect("array output checked when marked");
        let whole = part.offset.iter().all(|&o| o == 0) && a.shape() == shape.as_slice();
        let sel = super::window::hyperslab(&part.offset, a.shape());
        match a.data() {
            Data::F64(v) => put(&ds, v, a.shape(), whole, sel),
            Data::F32(v) => put(&ds, v, a.shape(), whole, sel),
            Data::I64(v) => put(&ds, v, a.shape(), whole, sel),
            Data::U8(v) => put(&ds, v, a.shape(), whole, sel),
        }
        .map_err(err)?;
    }
    Ok(())
}

fn put<T: H5Type>(
    ds: &hdf5::Dataset,
    v: &[T],
    shape: &[usize],
    whole: bool,
    sel: Hyperslab,
) -> hdf5::Result<()> {
    if whole {
        return ds.write_raw(v);
    }
    let view = ndarray::ArrayViewD::from_shape(ndarray::IxDyn(shape), v)
        .map_err(|e| hdf5::Error::from(e.to_string().as_str()))?;
    ds.write_slice(view, sel)
}
