//! The `dirk` binary: the command line (`dirk::main_with`) over the built-in kernels.

use dirk::registry::Registry;
use std::process::ExitCode;

/// mimalloc: the runtime allocates a result per task from many threads; glibc malloc's
/// consolidation showed up as the top cost of planning and of tiny tasks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    dirk::main_with(Registry::with_builtins())
}
