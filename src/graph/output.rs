//! Outputs: which values end up in the `--output` HDF5 file, and how tiles assemble into one
//! dataset.

use super::task_graph::{Handle, Task};
use super::value::ValueType;
use serde::{Deserialize, Serialize};

/// One tile of an output: the value of `task` written at `offset` of the dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputPart {
    /// Index of the producing task.
    pub task: u32,
    /// Where the tile's first element lands in the dataset (one entry per axis).
    pub offset: Vec<usize>,
}

/// A dataset of the output file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// Dataset name (written at `/<name>`).
    pub name: String,
    /// Type of the whole dataset.
    pub ty: ValueType,
    /// The tiles that make it up; one part at offset 0 for an untiled output.
    pub parts: Vec<OutputPart>,
}

impl Output {
    /// An output that is exactly one task's value.
    pub fn whole(name: String, h: Handle, ty: ValueType) -> Output {
        let rank = match &ty {
            ValueType::Array { shape, .. } => shape.len(),
            ValueType::Scalar => 0,
        };
        Output {
            name,
            ty,
            parts: vec![OutputPart {
                task: h.0,
                offset: vec![0; rank],
            }],
        }
    }

    /// Checks that every part exists, has the dataset's dtype and rank, and fits inside it.
    pub(crate) fn check(&self, tasks: &[Task]) -> Result<(), String> {
        let ValueType::Array { dtype, shape } = &self.ty else {
            return match self.parts.as_slice() {
                [p] if tasks.get(p.task as usize).map(|t| &t.ty) == Some(&ValueType::Scalar) => {
                    Ok(())
                }
                _ => Err("a scalar output must be exactly one scalar task".into()),
            };
        };
        for p in &self.parts {
            let Some(t) = tasks.get(p.task as usize) else {
                return Err(format!("part refers to unknown task {}", p.task));
            };
            let ValueType::Array {
                dtype: pd,
                shape: ps,
            } = &t.ty
            else {
                return Err(format!("part {} is a scalar", t.id));
            };
            if pd != dtype || ps.len() != shape.len() || p.offset.len() != shape.len() {
                return Err(format!(
                    "part {} does not match the dataset's dtype or rank",
                    t.id
                ));
            }
            if (0..shape.len()).any(|a| p.offset[a] + ps[a] > shape[a]) {
                return Err(format!("part {} does not fit in the dataset", t.id));
            }
        }
        Ok(())
    }
}
