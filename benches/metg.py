#!/usr/bin/env python3
"""METG sweep: dirk's minimum effective task granularity on Task Bench's stencil_1d.

  python3 benches/metg.py                       2 ranks x 1 thread, width 4; 1-3 minutes
  python3 benches/metg.py --ranks 1 --threads 2  one rank with two worker threads
  python3 benches/metg.py --repeats 5 --steps 1000 --out metg-out

METG(50 %) is Task Bench's figure of merit (Slaughter et al., "Task Bench: A Parameterized
Benchmark for Evaluating Parallel Runtime Performance", SC'20): the smallest task
granularity at which a runtime still reaches 50 % of the machine's peak. The sweep runs

  dirk taskbench -steps S -width W -type stencil_1d -kernel compute_bound -iter I

under mpirun for decreasing iteration counts I (--max-iter, halving down to --min-iter),
--repeats times each, as Task Bench's own METG scripts do (they halve -iter from 2^24);
the repeats are taken in rounds (every point once per round) so that load from other
processes on a shared machine spreads over all points. The
width defaults to 2 x cores (Task Bench's methodology: enough points to keep every core
busy; each rank gets width/ranks points).

  peak            the best FLOP/s of --peak-repeats runs at --peak-iter iterations (large
                  tasks, same ranks and threads), measured on this machine in the same
                  command; if a sweep point does better, that becomes the peak
  efficiency      FLOP/s / peak                   (Task Bench: flops / elapsed / peak)
  granularity     elapsed x cores / tasks          (Task Bench's time_per_task, nodes = 1)
  METG(50 %)      the smallest granularity whose efficiency is >= 50 %, interpolated
                  linearly towards the next smaller point, as Task Bench's chart_metg.py
                  does; with the mean elapsed time of the repeats (as chart_metg.py) and
                  with the best one. On a shared machine other processes only ever add
                  time, so the best of the repeats is the better estimate there; the mean
                  is what chart_metg.py would report from the same log

The elapsed time is the one dirk prints in Task Bench's "Elapsed Time" line: dirk's run
phase (from a barrier after planning to the last task on the slowest rank), as Task Bench's
MPI port times barrier to barrier. Process launch, MPI start-up and planning are not in it.

Writes into --out (default benches/metg-out):
  metg.csv        iterations,reps,elapsed_mean,elapsed_best,tasks,flops,flops_per_second,
                  efficiency,granularity_us (mean), efficiency_best,granularity_best_us
  metg.json       the command, date, host, load average, peak, METG, every repeat
  dirk_ngraphs_1_type_stencil_1d_nodes_1.log
                  every run's stdout, named as Task Bench's scripts expect, so that
                  `chart_metg.py LOG -g 1 -n 1 -c CORES --peak-compute-bandwidth PEAK`
                  from Task Bench's scripts/ scores the same runs
Python 3 standard library only.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shlex
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

ELAPSED = re.compile(r"^\s*Elapsed Time ([0-9.e+-]+) seconds$", re.MULTILINE)
TASKS = re.compile(r"^\s*Total Tasks ([0-9]+)$", re.MULTILINE)
FLOPS = re.compile(r"^\s*Total FLOPs ([0-9]+)$", re.MULTILINE)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="benches/metg.py",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cores = os.cpu_count() or 2
    ap.add_argument("--ranks", type=int, default=2, help="MPI ranks (default 2)")
    ap.add_argument("--threads", type=int, default=None,
                    help="worker threads per rank (default cores / ranks, at least 1)")
    ap.add_argument("--cores", type=int, default=cores,
                    help=f"cores the run may use, for the granularity (default {cores})")
    ap.add_argument("--width", type=int, default=None, help="points per timestep (default 2 x cores)")
    ap.add_argument("--steps", type=int, default=1000, help="timesteps (default 1000)")
    ap.add_argument("--type", default="stencil_1d", help="Task Bench pattern (default stencil_1d)")
    ap.add_argument("--max-iter", type=int, default=1 << 14,
                    help="largest -iter of the sweep (default 2^14: 0.1-0.3 ms per task)")
    ap.add_argument("--min-iter", type=int, default=1, help="smallest -iter (default 1)")
    ap.add_argument("--repeats", type=int, default=5, help="runs per point (default 5)")
    ap.add_argument("--peak-iter", type=int, default=1 << 16, help="-iter of the peak runs")
    ap.add_argument("--peak-steps", type=int, default=200, help="-steps of the peak runs")
    ap.add_argument("--peak-repeats", type=int, default=5)
    ap.add_argument("--threshold", type=float, default=0.5, help="efficiency threshold (0.5)")
    ap.add_argument("--dirk", default=str(REPO / "target" / "release" / "dirk"))
    ap.add_argument("--bind", choices=["auto", "cores", "none"], default="auto",
                    help="cores: each rank bound to its own --threads cores (mpirun --map-by "
                         "slot:PE=T --bind-to core, as Open MPI binds by default when ranks fit); "
                         "none: --oversubscribe --bind-to none, the OS places every thread; "
                         "auto (default): cores when ranks x threads <= --cores, else none")
    ap.add_argument("--mpirun-args", default="", help="extra mpirun flags")
    ap.add_argument("--dirk-args", default="", help="extra flags for dirk taskbench")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    ap.add_argument("--out", default=str(REPO / "benches" / "metg-out"))
    a = ap.parse_args(argv)
    if a.threads is None:
        a.threads = max(1, a.cores // a.ranks)
    if a.width is None:
        a.width = 2 * a.cores
    if a.min_iter < 1 or a.max_iter < a.min_iter:
        ap.error("need 1 <= --min-iter <= --max-iter")
    return a


def binding(a):
    """mpirun's placement flags for --bind."""
    bind = a.bind
    if bind == "auto":
        bind = "cores" if a.ranks * a.threads <= a.cores else "none"
    if bind == "cores":
        return ["--map-by", f"slot:PE={a.threads}", "--bind-to", "core"]
    return ["--oversubscribe", "--bind-to", "none"]


def run(a, iterations, steps, log):
    cmd = ["mpirun", "-n", str(a.ranks), *binding(a),
           *shlex.split(a.mpirun_args), a.dirk, "taskbench",
           "-steps", str(steps), "-width", str(a.width), "-type", a.type,
           "-kernel", "compute_bound", "-iter", str(iterations),
           "--threads", str(a.threads), *shlex.split(a.dirk_args)]
    env = dict(os.environ)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    try:
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=a.timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"metg.py: timed out after {a.timeout} s: {' '.join(cmd)}")
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        sys.exit(f"metg.py: exit {p.returncode}: {' '.join(cmd)}\n"
                 f"{out[-2000:]}{p.stderr.decode(errors='replace')[-2000:]}")
    if log is not None:
        log.write(out)
        log.flush()
    grab = lambda rx: rx.search(out).group(1)
    return {"elapsed": float(grab(ELAPSED)), "tasks": int(grab(TASKS)),
            "flops": int(grab(FLOPS)), "cmd": cmd}


def metg(rows, key_eff, key_gran, threshold):
    """Task Bench's chart_metg.py: the smallest granularity at or above the threshold,
    interpolated towards the next (smaller) point. rows: sorted by iterations, descending."""
    above = [i for i, r in enumerate(rows) if r[key_eff] >= threshold]
    if not above:
        return None, "no point reaches the threshold"
    i = min(above, key=lambda i: rows[i][key_gran])
    g = rows[i][key_gran]
    note = ""
    if i + 1 >= len(rows):
        note = "no point below the threshold after it: extend the sweep (--min-iter)"
    elif rows[i + 1][key_gran] < g:
        e0, e1 = rows[i + 1][key_eff], rows[i][key_eff]
        g0, g1 = rows[i + 1][key_gran], rows[i][key_gran]
        if e1 != e0:
            g = g0 + (threshold - e0) * (g1 - g0) / (e1 - e0)
    if not any(r[key_eff] < threshold for r in rows):
        note = "no point below the threshold: extend the sweep (--min-iter)"
    return g, note


def main(argv=None):
    a = parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if not Path(a.dirk).exists():
        sys.exit(f"metg.py: no dirk binary at {a.dirk} (cargo build --release)")
    started = datetime.datetime.now(datetime.timezone.utc)
    load0 = os.getloadavg()[0]
    print(f"METG sweep: {a.type}, width {a.width}, {a.steps} steps, {a.ranks} rank(s) x "
          f"{a.threads} thread(s), {a.cores} cores, load {load0:.2f}", flush=True)

    iters = []
    i = a.max_iter
    while i >= a.min_iter:
        iters.append(i)
        i //= 2
    # Rounds: every round runs the peak point and then every sweep point once, so a burst of
    # load from other processes is spread over all points instead of hitting one of them.
    peaks = []
    samples = {it: [] for it in iters}
    logname = f"dirk_ngraphs_1_type_{a.type}_nodes_1.log"
    with open(out / logname, "w") as log:
        for rnd in range(max(a.repeats, a.peak_repeats)):
            if rnd < a.peak_repeats:
                r = run(a, a.peak_iter, a.peak_steps, None)
                peaks.append(r["flops"] / r["elapsed"])
            if rnd < a.repeats:
                for it in iters:
                    samples[it].append(run(a, it, a.steps, log))
            print(f"  round {rnd + 1}: peak so far {max(peaks):.4e} FLOP/s, load "
                  f"{os.getloadavg()[0]:.2f}", flush=True)
    peak = max(peaks)
    print(f"peak: {peak:.4e} FLOP/s (best of {len(peaks)} runs at -iter {a.peak_iter}, "
          f"-steps {a.peak_steps})", flush=True)
    rows = []
    for it in iters:
        runs = samples[it]
        el = [r["elapsed"] for r in runs]
        tasks, flops = runs[0]["tasks"], runs[0]["flops"]
        mean, best = statistics.mean(el), min(el)
        rows.append({"iterations": it, "reps": len(el), "elapsed_mean": mean,
                     "elapsed_best": best, "tasks": tasks, "flops": flops,
                     "elapsed_all": el})
        peak = max(peak, flops / best)
        print(f"  -iter {it:>7}: elapsed mean {mean:.4e} s, best {best:.4e} s, "
              f"{flops / mean:.3e} FLOP/s (mean)", flush=True)
    for r in rows:
        r["flops_per_second"] = r["flops"] / r["elapsed_mean"]
        r["efficiency"] = r["flops_per_second"] / peak
        r["granularity_us"] = r["elapsed_mean"] * a.cores / r["tasks"] * 1e6
        r["efficiency_best"] = r["flops"] / r["elapsed_best"] / peak
        r["granularity_best_us"] = r["elapsed_best"] * a.cores / r["tasks"] * 1e6

    m_mean, note_mean = metg(rows, "efficiency", "granularity_us", a.threshold)
    m_best, note_best = metg(rows, "efficiency_best", "granularity_best_us", a.threshold)

    cols = ["iterations", "reps", "elapsed_mean", "elapsed_best", "tasks", "flops",
            "flops_per_second", "efficiency", "granularity_us", "efficiency_best",
            "granularity_best_us"]
    with open(out / "metg.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            w.writerow([r[c] if isinstance(r[c], int) else f"{r[c]:.6e}" for c in cols])

    print()
    print(f"{'iter':>7} {'granularity µs':>15} {'efficiency':>10}   (mean of {a.repeats})")
    for r in rows:
        print(f"{r['iterations']:>7} {r['granularity_us']:>15.2f} {100 * r['efficiency']:>9.1f}%")
    pct = round(100 * a.threshold)
    cmd = " ".join(shlex.quote(c) for c in run_cmd_example(a))
    print()
    print(f"peak {peak:.4e} FLOP/s")
    if m_mean is not None:
        print(f"METG({pct} %) = {m_mean:.2f} µs (mean elapsed, as Task Bench's chart_metg.py)"
              + (f"  [{note_mean}]" if note_mean else ""))
    else:
        print(f"METG({pct} %): {note_mean}")
    if m_best is not None:
        print(f"METG({pct} %) = {m_best:.2f} µs (best elapsed of {a.repeats})"
              + (f"  [{note_best}]" if note_best else ""))
    print(f"command: {cmd}")
    print(f"wrote {out / 'metg.csv'}, {out / 'metg.json'}, {out / logname}")

    meta = {
        "command": [sys.executable] + sys.argv,
        "example_run": cmd,
        "date": started.isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cores": a.cores,
        "ranks": a.ranks,
        "threads": a.threads,
        "width": a.width,
        "steps": a.steps,
        "type": a.type,
        "load_start": load0,
        "load_end": os.getloadavg()[0],
        "peak_flops": peak,
        "peak_runs": peaks,
        "threshold": a.threshold,
        "metg_us_mean": m_mean,
        "metg_us_best": m_best,
        "notes": [n for n in (note_mean, note_best) if n],
        "rows": rows,
        "seconds": time.time() - started.timestamp(),
    }
    (out / "metg.json").write_text(json.dumps(meta, indent=1) + "\n")


def run_cmd_example(a):
    return ["mpirun", "-n", str(a.ranks), *binding(a), "dirk",
            "taskbench", "-steps", str(a.steps), "-width", str(a.width), "-type", a.type,
            "-kernel", "compute_bound", "-iter", "I", "--threads", str(a.threads)]


if __name__ == "__main__":
    main()
