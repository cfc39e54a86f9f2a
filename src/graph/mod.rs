//! The task graph: values, ops and their typing rules, tasks, edges, outputs and the cycle
//! check. No I/O and no MPI here.

pub mod buffers;
mod footprint;
pub(crate) mod op;
pub(crate) mod op_tiled;
mod output;
mod placement;
mod scope;
pub mod stencil;
mod task_graph;
mod topo;
mod value;

pub use footprint::{human_bytes, Footprint, BYTES_PER_EDGE, BYTES_PER_TASK, MAX_TASKS};
pub use op::{ArgType, Op, TaskBenchTask};
pub use output::{Output, OutputPart};
pub use placement::{Placement, TileLayout};
pub use scope::{DeviceClass, Scope};
pub use task_graph::{Arg, Graph, GraphError, Handle, Task};
pub use topo::topo_order;
pub use value::{Array, DType, Data, Value, ValueType};
