//! Which GPU a rank takes, if any.
//!
//! A rank's local rank (its index among the ranks on its node) comes from the launcher:
//! `OMPI_COMM_WORLD_LOCAL_RANK` (Open MPI), `MPI_LOCALRANKID` (MPICH, Intel MPI) or
//! `SLURM_LOCALID` (srun); the runtime falls back to a shared-memory split of the world
//! communicator when none is set. The rank takes GPU `local rank mod visible GPUs`, where the
//! visible GPUs are those the driver shows after `CUDA_VISIBLE_DEVICES`. Every step checks
//! before it calls into CUDA, so a node without libcuda or without a GPU simply has none.

use super::context::DeviceContext;
use super::cuda::{self, CudaDevice};
use std::sync::Arc;

/// Streams a CUDA device is opened with.
pub const STREAMS: usize = 4;

/// Launcher variables that carry the local rank, in the order they are tried.
pub const LOCAL_RANK_VARS: [&str; 3] = [
    "OMPI_COMM_WORLD_LOCAL_RANK",
    "MPI_LOCALRANKID",
    "SLURM_LOCALID",
];

/// The local rank the launcher gave this process, looking variables up with `get`.
pub fn local_rank_from(get: impl Fn(&str) -> Option<String>) -> Option<u32> {
    LOCAL_RANK_VARS
        .iter()
        .find_map(|v| get(v).and_then(|s| s.trim().parse().ok()))
}

/// What one rank found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuProbe {
    /// Its local rank on the node.
    pub local_rank: u32,
    /// GPUs visible to it.
    pub visible: usize,
    /// The GPU it takes, if any.
    pub ordinal: Option<usize>,
    /// Why it has none, or which it has (for `dirk info` and logs).
    pub note: String,
}

/// The GPU `local_rank` takes among `visible` ones.
pub fn pick(local_rank: u32, visible: usize) -> Option<usize> {
    (visible > 0).then(|| local_rank as usize % visible)
}

/// Looks for this rank's GPU without opening it.
pub fn probe(local_rank: u32) -> GpuProbe {
    let cvd = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    let filter = cvd
        .as_deref()
        .map(|v| format!(" (CUDA_VISIBLE_DEVICES={v})"))
        .unwrap_or_default();
    match cuda::device_count() {
        Err(why) => GpuProbe {
            local_rank,
            visible: 0,
            ordinal: None,
            note: why,
        },
        Ok(visible) => {
            let ordinal = pick(local_rank, visible);
            let note = match ordinal {
                None => format!("no GPU visible{filter}"),
                Some(o) => format!("GPU {o} of {visible} visible{filter}"),
            };
            GpuProbe {
                local_rank,
                visible,
                ordinal,
                note,
            }
        }
    }
}

/// The device this rank uses: none with `--gpus none` (`use_gpus` false), else its GPU when
/// one is found and opens. The probe says what was found and why there is no device.
pub fn select(use_gpus: bool, local_rank: u32) -> (Option<Arc<DeviceContext>>, GpuProbe) {
    if !use_gpus {
        return (
            None,
            GpuProbe {
                local_rank,
                visible: 0,
                ordinal: None,
                note: "not looked for (--gpus none)".into(),
            },
        );
    }
    let mut p = probe(local_rank);
    let Some(ordinal) = p.ordinal else {
        return (None, p);
    };
    match CudaDevice::open(ordinal, STREAMS) {
        Ok(d) => {
            p.note = d_describe(&d);
            (Some(Arc::new(DeviceContext::new(Arc::new(d)))), p)
        }
        Err(e) => {
            p.note = format!("GPU {ordinal} cannot be opened: {e}");
            p.ordinal = None;
            (None, p)
        }
    }
}

fn d_describe(d: &CudaDevice) -> String {
    use super::Device;
    d.describe()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_rank_comes_from_the_first_launcher_variable_set() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(local_rank_from(env(&[])), None);
        assert_eq!(local_rank_from(env(&[("SLURM_LOCALID", "3")])), Some(3));
        assert_eq!(
            local_rank_from(env(&[("MPI_LOCALRANKID", "1"), ("SLURM_LOCALID", "3")])),
            Some(1)
        );
        assert_eq!(
            local_rank_from(env(&[
                ("OMPI_COMM_WORLD_LOCAL_RANK", "2"),
                ("MPI_LOCALRANKID", "1")
            ])),
            Some(2)
        );
        assert_eq!(
            local_rank_from(env(&[
                ("OMPI_COMM_WORLD_LOCAL_RANK", "x"),
                ("SLURM_LOCALID", "5")
            ])),
            Some(5)
        );
    }

    #[test]
    fn ranks_share_out_the_visible_gpus() {
        assert_eq!(pick(0, 0), None);
        assert_eq!(pick(5, 0), None);
        assert_eq!(pick(0, 4), Some(0));
        assert_eq!(pick(5, 4), Some(1));
        assert_eq!(pick(3, 1), Some(0));
    }

    #[test]
    fn gpus_none_never_looks_and_no_gpu_never_panics() {
        let (d, p) = select(false, 0);
        assert!(d.is_none());
        assert!(p.note.contains("--gpus none"));
        // Here (CI, no GPU) this must return None with a reason, never panic; on a GPU node
        // it opens the GPU.
        let (d, p) = select(true, 0);
        assert_eq!(d.is_some(), p.ordinal.is_some(), "{}", p.note);
        assert!(!p.note.is_empty());
    }
}
