//! Log lines through `tracing`: each line carries the rank, is written to stderr in one
//! write (so lines from many ranks sharing one Slurm output file do not interleave), and
//! routine messages come from rank 0 only unless asked for.
//!
//! Levels: rank 0 logs `info` and above, other ranks `warn` and above; `-v` adds one level
//! (debug), `-vv` two (trace), `-q` keeps errors only. `RUST_LOG` (e.g. `RUST_LOG=dirk=debug`)
//! overrides all of this.

use std::fmt;
use std::io::IsTerminal;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// Formats `dirk[RANK] LEVEL message`.
struct RankFormat {
    rank: Option<u32>,
    color: bool,
}

impl<S, N> FormatEvent<S, N> for RankFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        let (name, color) = match level {
            Level::ERROR => ("error", "\x1b[31m"),
            Level::WARN => ("warning", "\x1b[33m"),
            Level::INFO => ("info", "\x1b[32m"),
            Level::DEBUG => ("debug", "\x1b[34m"),
            Level::TRACE => ("trace", "\x1b[35m"),
        };
        match self.rank {
            Some(r) => write!(w, "dirk[{r}] ")?,
            None => write!(w, "dirk ")?,
        }
        if self.color {
            write!(w, "{color}{name}\x1b[0m: ")?;
        } else {
            write!(w, "{name}: ")?;
        }
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Installs the subscriber. `rank` is `None` before MPI starts (`validate`); `verbosity` is
/// the number of `-v` minus the number of `-q`.
pub fn init(rank: Option<u32>, verbosity: i32) {
    let base = match (rank.unwrap_or(0), verbosity) {
        (_, v) if v < 0 => "error",
        (0, 0) => "info",
        (_, 0) => "warn",
        (_, 1) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(base));
    let color = std::io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(RankFormat { rank, color })
        .try_init();
}
