//! The graph's fingerprint: a checksum of everything that determines its results (task ids,
//! ops and parameters, arguments, scopes, types, outputs). A checkpoint is only ever resumed
//! by a job with the same fingerprint; the rank and thread counts are not part of it, since a
//! resumed run may use others.

use crate::graph::Graph;
use std::fmt::Write;
use xxhash_rust::xxh3::Xxh3;

/// A hex fingerprint of `g`.
pub fn fingerprint(g: &Graph) -> String {
    let mut h = Xxh3::new();
    let mut line = String::new();
    for t in g.tasks() {
        line.clear();
        let _ = writeln!(
            line,
            "{}|{:?}|{:?}|{:?}|{:?}",
            t.id, t.op, t.args, t.scope, t.ty
        );
        h.update(line.as_bytes());
    }
    for o in g.outputs() {
        line.clear();
        let _ = writeln!(line, "out|{:?}", o);
        h.update(line.as_bytes());
    }
    format!("{:032x}", h.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Arg, DType, Op};

    #[test]
    fn depends_on_parameters() {
        let make = |seed| {
            let mut g = Graph::new();
            let x = g
                .spawn(
                    Op::Rand {
                        seed,
                        dtype: DType::F64,
                    },
                    [Arg::Shape(vec![4])],
                )
                .unwrap();
            g.spawn(Op::Sum, [x.into()]).unwrap();
            g
        };
        assert_eq!(fingerprint(&make(1)), fingerprint(&make(1)));
        assert_ne!(fingerprint(&make(1)), fingerprint(&make(2)));
    }
}
