//! Reading HDF5 inputs: probing a dataset's type when a job is validated, and reading it when
//! the `load` task runs.

use super::error::StoreError;
use crate::graph::{Array, DType, Data, Value, ValueType};
use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use std::path::Path;

/// Opens `path` and returns the type of `dataset` (its dtype and shape), so a job that names
/// a missing or unreadable input fails before any task runs.
pub fn probe_dataset(path: &Path, dataset: &str) -> Result<ValueType, StoreError> {
    if !path.exists() {
        return Err(StoreError::file(path, "no such file"));
    }
    // Opening a FIFO would wait for a writer forever.
    super::require_regular(path).map_err(|e| StoreError::file(path, e))?;
    let file = hdf5::File::open(path).map_err(|e| StoreError::file(path, e))?;
    let ds = file
        .dataset(dataset)
        .map_err(|_| StoreError::dataset(path, dataset, "not found in the file"))?;
    let desc = ds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| StoreError::dataset(path, dataset, e))?;
    let dtype = match desc {
        TypeDescriptor::Float(FloatSize::U8) => DType::F64,
        TypeDescriptor::Float(FloatSize::U4) => DType::F32,
        TypeDescriptor::Integer(_) => DType::I64,
        TypeDescriptor::Unsigned(IntSize::U1) | TypeDescriptor::Boolean => DType::U8,
        TypeDescriptor::Unsigned(_) => DType::I64,
        other => {
            return Err(StoreError::dataset(
                path,
                dataset,
                format!("unsupported element type {other:?} (need float or integer)"),
            ))
        }
    };
    let shape = ds.shape();
    let ty = if shape.is_empty() {
        ValueType::Scalar
    } else {
        ValueType::Array { dtype, shape }
    };
    read_first(&ds, &ty).map_err(|e| {
        StoreError::dataset(
            path,
            dataset,
            format!("cannot be read ({e}; a filter plugin or an external file missing?)"),
        )
    })?;
    Ok(ty)
}

/// Reads the first element of `ds` (so its first chunk, through its filters, or its
/// external file): what a dataset whose header opens but whose data cannot be read fails on.
fn read_first(ds: &hdf5::Dataset, ty: &ValueType) -> hdf5::Result<()> {
    let ValueType::Array { dtype, shape } = ty else {
        return ds.read_scalar::<f64>().map(drop);
    };
    if shape.contains(&0) {
        return Ok(());
    }
    let origin = ndarray::Array2::<usize>::zeros((1, shape.len()));
    let sel = hdf5::Selection::Points(origin);
    match dtype {
        DType::F64 => ds.read_slice_1d::<f64, _>(sel).map(drop),
        DType::F32 => ds.read_slice_1d::<f32, _>(sel).map(drop),
        DType::I64 => ds.read_slice_1d::<i64, _>(sel).map(drop),
        DType::U8 => ds.read_slice_1d::<u8, _>(sel).map(drop),
    }
}

/// Reads `dataset` as the type it was probed as.
pub fn read_dataset(path: &Path, dataset: &str, ty: &ValueType) -> Result<Value, StoreError> {
    let err = |e: hdf5::Error| StoreError::dataset(path, dataset, e);
    let file = hdf5::File::open(path).map_err(|e| StoreError::file(path, e))?;
    let ds = file.dataset(dataset).map_err(err)?;
    if let ValueType::Array { shape, .. } = ty {
        if ds.shape() != *shape {
            return Err(StoreError::dataset(
                path,
                dataset,
                format!(
                    "shape changed since validation: now {:?}, was {shape:?}",
                    ds.shape()
                ),
            ));
        }
    }
    read_value(&ds, ty).map_err(err)
}

/// Reads an open dataset whose type is known to be `ty`.
pub(crate) fn read_value(ds: &hdf5::Dataset, ty: &ValueType) -> hdf5::Result<Value> {
    let ValueType::Array { dtype, shape } = ty else {
        return Ok(Value::Scalar(ds.read_scalar::<f64>()?));
    };
    let data = match dtype {
        DType::F64 => Data::F64(ds.read_raw()?),
        DType::F32 => Data::F32(ds.read_raw()?),
        DType::I64 => Data::I64(ds.read_raw()?),
        DType::U8 => Data::U8(ds.read_raw()?),
    };
    if data.len() != ty.len() {
        return Err(
            format!("holds {} elements, expected {}", data.len(), ty.len())
                .as_str()
                .into(),
        );
    }
    Ok(Value::Array(Array::new(shape.clone(), data)))
}
