//! Reading a window (hyperslab) of an HDF5 dataset: how a tiled workload loads its initial
//! tiles, each rank reading only the tiles it owns.

use super::error::StoreError;
use crate::graph::{Array, DType, Data, Value};
use hdf5::{H5Type, Hyperslab, SliceOrIndex};
use std::path::Path;

fn read<T: H5Type + Copy>(ds: &hdf5::Dataset, sel: Hyperslab) -> hdf5::Result<Vec<T>> {
    let a = ds.read_slice::<T, _, ndarray::IxDyn>(sel)?;
    Ok(a.iter().copied().collect())
}

/// Reads the window of `dataset` at `offset` with `shape`, converted by HDF5 to `dtype`.
pub fn read_window(
    path: &Path,
    dataset: &str,
    dtype: DType,
    offset: &[usize],
    shape: &[usize],
) -> Result<Value, StoreError> {
    let err = |e: hdf5::Error| StoreError::dataset(path, dataset, e);
    let file = hdf5::File::open(path).map_err(|e| StoreError::file(path, e))?;
    let ds = file.dataset(dataset).map_err(err)?;
    let sel = hyperslab(offset, shape);
    let data = match dtype {
        DType::F64 => Data::F64(read(&ds, sel).map_err(err)?),
        DType::F32 => Data::F32(read(&ds, sel).map_err(err)?),
        DType::I64 => Data::I64(read(&ds, sel).map_err(err)?),
        DType::U8 => Data::U8(read(&ds, sel).map_err(err)?),
    };
    Ok(Value::Array(Array::new(shape.to_vec(), data)))
}

/// The block of `shape` elements starting at `offset`, as an HDF5 selection.
pub(crate) fn hyperslab(offset: &[usize], shape: &[usize]) -> Hyperslab {
    offset
        .iter()
        .zip(shape)
        .map(|(&start, &count)| SliceOrIndex::SliceCount {
            start,
            step: 1,
            count,
            block: 1,
        })
        .collect::<Vec<_>>()
        .into()
}
