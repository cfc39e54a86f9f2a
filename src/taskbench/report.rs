//! What Task Bench prints, line for line (`App::display` and `App::report_timing` of its
//! `core.cc`), so that its scripts (`chart_metg.py` and friends) parse dirk's output.

use super::flags::App;
use std::fmt::Write;

/// C's `printf("%e", x)`: one digit, six decimals, an exponent of at least two digits.
pub fn c_exp(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let s = format!("{x:.6e}");
    let (mantissa, exp) = s.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// The header Task Bench prints before running (`App::display`), with the per-timestep
/// points and dependencies under `-v` and reverse dependencies under `-vv`.
pub fn display(app: &App) -> String {
    let mut s = String::new();
    s.push_str("Running Task Benchmark\n");
    s.push_str("  Configuration:\n");
    for (i, g) in app.graphs.iter().enumerate() {
        let _ = writeln!(s, "    Task Graph {}:", i + 1);
        let _ = writeln!(s, "      Time Steps: {}", g.timesteps);
        let _ = writeln!(s, "      Max Width: {}", g.max_width);
        let _ = writeln!(s, "      Dependence Type: {}", g.dependence.name());
        let _ = writeln!(s, "      Radix: {}", g.radix);
        let _ = writeln!(s, "      Period: {}", g.period);
        let _ = writeln!(s, "      Fraction Connected: {:.6}", g.fraction_connected);
        s.push_str("      Kernel:\n");
        let _ = writeln!(s, "        Type: {}", g.kernel.kind.name());
        let _ = writeln!(s, "        Iterations: {}", g.kernel.iterations);
        let _ = writeln!(s, "        Samples: {}", g.kernel.samples);
        let _ = writeln!(s, "        Imbalance: {:.6}", g.kernel.imbalance);
        let _ = writeln!(s, "      Output Bytes: {}", g.output_bytes);
        let _ = writeln!(s, "      Scratch Bytes: {}", g.scratch_bytes);
        if app.verbose == 0 {
            continue;
        }
        for t in 0..g.timesteps {
            let (offset, width) = (g.offset_at_timestep(t), g.width_at_timestep(t));
            let (last_offset, last_width) =
                (g.offset_at_timestep(t - 1), g.width_at_timestep(t - 1));
            let dset = g.dependence_set_at_timestep(t);
            let _ = writeln!(
                s,
                "      Timestep {t} (offset {offset}, width {width}, last offset {last_offset}, last width {last_width}):"
            );
            s.push_str("        Points:");
            for p in offset..offset + width {
                let _ = write!(s, " {p}");
            }
            s.push('\n');
            s.push_str("        Dependencies:\n");
            for p in offset..offset + width {
                let _ = write!(s, "          Point {p}:");
                for d in g.inputs(t, p) {
                    let _ = write!(s, " {d}");
                }
                s.push('\n');
            }
            if app.verbose > 1 {
                s.push_str("        Reverse Dependencies:\n");
                for p in last_offset..last_offset + last_width {
                    let _ = write!(s, "          Point {p}:");
                    for (a, b) in g.reverse_dependencies(dset, p) {
                        for d in (a..=b).filter(|d| (offset..offset + width).contains(d)) {
                            let _ = write!(s, " {d}");
                        }
                    }
                    s.push('\n');
                }
            }
        }
    }
    s
}

/// C's clamp of an inclusive interval to [min, max] (an empty interval keeps first > last).
fn clamp(start: i64, end: i64, min: i64, max: i64) -> (i64, i64) {
    if end < min {
        (min, min - 1)
    } else if start > max {
        (max, max - 1)
    } else {
        (start.max(min), end.min(max))
    }
}

/// The summary Task Bench prints after the run (`App::report_timing`).
pub fn report_timing(app: &App, elapsed_seconds: f64) -> String {
    let (mut tasks, mut deps, mut local, mut nonlocal) = (0i64, 0i64, 0i64, 0i64);
    let (mut flops, mut bytes, mut local_transfer, mut nonlocal_transfer) =
        (0i64, 0i64, 0i64, 0i64);
    let nodes = app.nodes;
    for g in &app.graphs {
        let (mut g_local, mut g_nonlocal) = (0i64, 0i64);
        for t in 0..g.timesteps {
            let (offset, width) = (g.offset_at_timestep(t), g.width_at_timestep(t));
            let (last_offset, last_width) =
                (g.offset_at_timestep(t - 1), g.width_at_timestep(t - 1));
            let dset = g.dependence_set_at_timestep(t);
            tasks += width;
            for p in offset..offset + width {
                let (mut node_first, mut node_last) = (0, -1);
                if nodes > 0 {
                    let point_node = p * nodes / g.max_width;
                    node_first = point_node * g.max_width / nodes;
                    node_last = (point_node + 1) * g.max_width / nodes - 1;
                }
                for (a, b) in g.dependencies(dset, p) {
                    let (first, last) = clamp(a, b, last_offset, last_offset + last_width - 1);
                    deps += last - first + 1;
                    if nodes > 0 {
                        let (i0, i1) = clamp(first, last, 0, node_first - 1);
                        let (l0, l1) = clamp(first, last, node_first, node_last);
                        let (f0, f1) = clamp(first, last, node_last + 1, g.max_width - 1);
                        g_nonlocal += i1 - i0 + 1;
                        g_local += l1 - l0 + 1;
                        g_nonlocal += f1 - f0 + 1;
                    }
                }
            }
        }
        let (f, b) = g.work();
        flops += f;
        bytes += b;
        local += g_local;
        nonlocal += g_nonlocal;
        local_transfer += g_local * g.output_bytes;
        nonlocal_transfer += g_nonlocal * g.output_bytes;
    }
    let mut s = String::new();
    let _ = writeln!(s, "Total Tasks {tasks}");
    let _ = writeln!(s, "Total Dependencies {deps}");
    if nodes > 0 {
        let _ = writeln!(s, "  Local Dependencies {local} (estimated)");
        let _ = writeln!(s, "  Nonlocal Dependencies {nonlocal} (estimated)");
        let _ = writeln!(s, "  Number of Nodes (used for estimate) {nodes}");
    } else {
        s.push_str("  Unable to estimate local/nonlocal dependencies\n");
    }
    let _ = writeln!(s, "Total FLOPs {flops}");
    let _ = writeln!(s, "Total Bytes {bytes}");
    let _ = writeln!(s, "Elapsed Time {} seconds", c_exp(elapsed_seconds));
    let _ = writeln!(s, "FLOP/s {}", c_exp(flops as f64 / elapsed_seconds));
    let _ = writeln!(s, "B/s {}", c_exp(bytes as f64 / elapsed_seconds));
    s.push_str("Transfer (estimated):\n");
    if nodes > 0 {
        let _ = writeln!(s, "  Local Bytes {local_transfer}");
        let _ = writeln!(s, "  Nonlocal Bytes {nonlocal_transfer}");
        let _ = writeln!(
            s,
            "  Local Bandwidth {} B/s",
            c_exp(local_transfer as f64 / elapsed_seconds)
        );
        let _ = writeln!(
            s,
            "  Nonlocal Bandwidth {} B/s",
            c_exp(nonlocal_transfer as f64 / elapsed_seconds)
        );
    } else {
        s.push_str("  Unable to estimate local/nonlocal transfer\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::c_exp;

    #[test]
    fn printf_e() {
        assert_eq!(c_exp(0.0123456789), "1.234568e-02");
        assert_eq!(c_exp(1234.5), "1.234500e+03");
        assert_eq!(c_exp(0.0), "0.000000e+00");
        assert_eq!(c_exp(1e100), "1.000000e+100");
        assert_eq!(c_exp(f64::INFINITY), "inf");
        assert_eq!(c_exp(f64::NAN), "nan");
    }
}
