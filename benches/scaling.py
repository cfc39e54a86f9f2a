#!/usr/bin/env python3
"""Strong- and weak-scaling sweep of a dirk workload over rank counts, with CSV and SVG plots.

One command runs both sweeps, locally with mpirun or inside a Slurm allocation with srun:

  python3 benches/scaling.py                          ranks 1,2; about a minute on 2 cores
  python3 benches/scaling.py --ranks 1,2,4,8 --grid 8192,8192 --steps 100 --out scaling-big
  sbatch slurm/scaling.sbatch                         the same inside one Slurm allocation

Strong scaling: one fixed problem (--grid) on R ranks. Ideal: time falls as 1/R.
  speedup(R)    = R0 * T(R0) / T(R)      (R0 = the smallest rank count, usually 1)
  efficiency(R) = speedup(R) / R
Weak scaling: every rank keeps the same share. The grid grows along its rows with the rank
count (R * H rows of W cells, H,W from --weak-grid, default --grid). Ideal: time stays flat.
  efficiency(R) = T(R0) / T(R)
  speedup(R)    = R * efficiency(R)       ("scaled speedup")
Machine ceiling of the weak sweep (mpirun, ranks starting at 1; --no-machine skips it): R
independent 1-rank runs of the 1-rank weak job at once, each on its own cores, no messages
between them. What the hardware loses by running R copies side by side (memory bandwidth,
shared caches, clock) is in it, nothing of dirk's communication is; so
  ceiling(R)    = T(1 rank alone) / T(slowest of R copies at once)
bounds what any runtime can reach for this job here, and weak efficiency / ceiling is the
part that communication and scheduling cost (printed from the best times, and paired: the
median over the rounds of each round's T(copies) / T(R ranks); in scaling.json too). A
ceiling under 95 % means a loaded host, and the script says so; one above 100 % means the
1-rank time drifted between rounds, and it says that too. It also prints the spread of each
sweep's first-point repeats (slowest over fastest): the host's run-to-run noise, which on a
shared VM is 5-16 %, so an efficiency within that of a target is not settled by one sweep.

Both sweeps split the grid into row strips: --tiles-per-rank x R tiles along the rows, and
--tile-cols tiles along the columns, so every rank owns the same number of tiles at every
point; make --tiles-per-rank at least --threads so every thread has a tile to work on. Life
runs with deep halos (--halo K, default 5: strips K rows deep exchanged once every K steps,
the job's "halo"; --halo 1 exchanges every step), which a tile's row count must allow.

Each point runs --repeats times and keeps the best time; the repeats are taken in rounds
(every point of a sweep, and the machine ceiling's copies, once per round), so that the load
of a shared machine, which drifts within minutes, weighs on all points alike (Task Bench's
METG scripts and benches/metg.py do the same). It also prints each sweep's paired
efficiency: the median over the rounds of the efficiency from that round's own runs (in
scaling.json too), which cancels the drift between rounds (benches/ab.py's pair ratio).
The time is `run_seconds` from
dirk's --summary: the slowest rank's execution of the graph (planning, plan distribution,
MPI start-up and process launch are not in it; they do not grow with the steps).

Writes into --out (default benches/scaling-out):
  scaling.csv     ranks,threads,problem,size,seconds,speedup,efficiency (problem strong,
                  weak, or machine: the ceiling above, size COPIES*HxW)
  speedup.svg     speedup against ranks (strong: speedup; weak: scaled speedup), ideal y = R
  efficiency.svg  efficiency against ranks, ideal 100 %
  scaling.json    the command, date, host, load average, every repeat's time
  jobs/, runs/    the generated job files and each run's summary and log

The launcher is srun when SLURM_JOB_ID is set (inside sbatch/salloc), else mpirun; force one
with --launcher. mpirun binds each rank to its own THREADS cores where the ranks fit
(--map-by slot:PE=THREADS --bind-to core, as Open MPI does by default), else runs with
--oversubscribe --bind-to none (--bind; as root with OMPI_ALLOW_RUN_AS_ROOT); srun with
--mpi=pmix (or $SRUN_MPI: pmi2 for a dirk built against MPICH), --ntasks R and
--cpus-per-task THREADS.
Extra launcher flags go in --launcher-args "...". Python 3 standard library only.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Life's deep halos (benches/HISTORY.md, "Scaling", tenth session): strips this many rows deep,
# exchanged once every this many steps.
HALO = 5


def pair(text):
    parts = [int(x) for x in text.replace("x", ",").replace(":", ",").split(",") if x.strip()]
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"want two positive integers H,W, got {text!r}")
    return parts


def ranks_list(text):
    try:
        r = sorted({int(x) for x in text.replace(":", ",").split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"want rank counts like 1,2,4, got {text!r}")
    if not r or r[0] < 1:
        raise argparse.ArgumentTypeError(f"want positive rank counts, got {text!r}")
    return r


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="benches/scaling.py",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--ranks", type=ranks_list, default=[1, 2], metavar="1,2,4",
                    help="rank counts to sweep, separated by , or : (default 1,2)")
    ap.add_argument("--workload", choices=["life", "heat"], default="life",
                    help="the generator: life (u8 cells, periodic) or heat (f64, 5-point "
                         "stencil) (default life)")
    ap.add_argument("--grid", type=pair, default=[2048, 2048], metavar="H,W",
                    help="the strong-scaling grid, H,W or HxW (default 2048,2048)")
    ap.add_argument("--weak-grid", type=pair, default=None, metavar="H,W",
                    help="one rank's share in the weak sweep; R ranks get R*H rows "
                         "(default: --grid)")
    ap.add_argument("--steps", type=int, default=2000,
                    help="time steps per run (default 2000)")
    ap.add_argument("--tiles-per-rank", type=int, default=4, metavar="N",
                    help="tiles along the rows per rank (default 4)")
    ap.add_argument("--halo", type=int, default=HALO, metavar="K",
                    help=f"life: deep halos, steps per exchange of halo strips (default {HALO}; "
                         "1: an exchange every step)")
    ap.add_argument("--tile-cols", type=int, default=1, metavar="N",
                    help="tiles along the columns (default 1: row strips)")
    ap.add_argument("--threads", type=int, default=1,
                    help="worker threads per rank (default 1)")
    ap.add_argument("--repeats", type=int, default=5,
                    help="runs per point; the best is kept (default 5)")
    ap.add_argument("--sweeps", default="strong,weak", metavar="strong,weak",
                    help="which sweeps to run (default both)")
    ap.add_argument("--launcher", choices=["auto", "srun", "mpirun"], default="auto",
                    help="auto: srun inside a Slurm allocation (SLURM_JOB_ID set), else mpirun")
    ap.add_argument("--bind", choices=["auto", "cores", "none"], default="auto",
                    help="mpirun only. cores: each rank bound to its own THREADS cores "
                         "(--map-by slot:PE=THREADS --bind-to core, what Open MPI does by "
                         "default when the ranks fit); none: --oversubscribe --bind-to none; "
                         "auto (default): cores where ranks x threads fit the CPUs, else none")
    ap.add_argument("--no-machine", action="store_true",
                    help="skip the machine ceiling of the weak sweep (below)")
    ap.add_argument("--launcher-args", default="", metavar="'ARGS'",
                    help="extra flags for the launcher, e.g. '--overcommit' (srun) or "
                         "'--mca btl self,vader' (mpirun)")
    ap.add_argument("--dirk-args", default="", metavar="'ARGS'",
                    help="extra flags for `dirk run`, e.g. '--steal off'")
    ap.add_argument("--dirk", default=os.environ.get("DIRK", str(REPO / "target/release/dirk")),
                    help="the dirk binary (default $DIRK or target/release/dirk)")
    ap.add_argument("--out", default=str(REPO / "benches/scaling-out"), metavar="DIR",
                    help="where the CSV, SVGs and run files go (default benches/scaling-out)")
    ap.add_argument("--timeout", type=int, default=600, metavar="SECONDS",
                    help="limit for one run (default 600)")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the commands and write the job files, run nothing")
    a = ap.parse_args(argv)
    a.weak_grid = a.weak_grid or a.grid
    a.sweeps = [s for s in a.sweeps.split(",") if s]
    for s in a.sweeps:
        if s not in ("strong", "weak"):
            ap.error(f"--sweeps: unknown sweep {s!r} (strong, weak)")
    for name in ("steps", "tiles_per_rank", "tile_cols", "threads", "repeats", "halo"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if a.launcher == "auto":
        a.launcher = "srun" if os.environ.get("SLURM_JOB_ID") else "mpirun"
    return a


def job_for(a, problem, ranks):
    """The job file (a dict) of one point of a sweep, and its grid."""
    if problem == "strong":
        h, w = a.grid
    else:
        h, w = a.weak_grid[0] * ranks, a.weak_grid[1]
    tiles = [min(a.tiles_per_rank * ranks, h), min(a.tile_cols, w)]
    wl = {"kind": a.workload, "grid": [h, w], "tiles": tiles, "steps": a.steps, "seed": 1}
    if a.workload == "life":
        wl["boundary"] = "periodic"
        if a.halo != 1:  # (builds before deep halos know no "halo")
            wl["halo"] = a.halo
    else:
        wl["alpha"] = 0.1
    name = f"{a.workload}-{problem}-{ranks}r"
    return {"dirk": 1, "name": name, "workload": wl}, (h, w)


def bound(a, ranks):
    """True when mpirun binds each rank to its own --threads cores (--bind)."""
    if a.bind == "auto":
        return ranks * a.threads <= (os.cpu_count() or 1)
    return a.bind == "cores"


def launch_cmd(a, ranks):
    extra = shlex.split(a.launcher_args)
    if a.launcher == "srun":
        mpi = os.environ.get("SRUN_MPI", "pmix")
        return ["srun", f"--mpi={mpi}", f"--ntasks={ranks}", f"--cpus-per-task={a.threads}",
                *extra]
    if bound(a, ranks):
        return ["mpirun", "-n", str(ranks), "--map-by", f"slot:PE={a.threads}",
                "--bind-to", "core", *extra]
    return ["mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "none", *extra]


def run_env(a):
    env = dict(os.environ)
    if a.launcher == "mpirun" and hasattr(os, "geteuid") and os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return env


def run_machine(a, out, copies, job, rep):
    """The machine's own weak-scaling ceiling: `copies` independent 1-rank runs of the same
    job at once (no messages between them; each on its own cores when bound), slowest
    run_seconds. What the hardware loses by running copies side by side (memory bandwidth,
    shared caches, clock) is in it; nothing of dirk's communication is."""
    jf = out / "jobs" / f"{job['name']}.json"
    jf.write_text(json.dumps(job, indent=1) + "\n")
    procs, files = [], []
    for i in range(copies):
        sf = out / "runs" / f"{job['name']}-machine{copies}-{rep}-{i}.summary.json"
        if sf.exists():
            sf.unlink()
        cmd = ["mpirun", "-n", "1", "--bind-to", "none", a.dirk, "run", str(jf),
               "--threads", str(a.threads), "--summary", str(sf), *shlex.split(a.dirk_args)]
        if bound(a, copies):
            first = i * a.threads
            cmd = ["taskset", "-c", f"{first}-{first + a.threads - 1}", *cmd]
        log = open(out / "runs" / f"{job['name']}-machine{copies}-{rep}-{i}.log", "w")
        procs.append((subprocess.Popen(cmd, env=run_env(a), stdout=log,
                                       stderr=subprocess.STDOUT), cmd, log))
        files.append(sf)
    times = []
    for (p, cmd, log), sf in zip(procs, files):
        code = p.wait(timeout=a.timeout)
        log.close()
        if code != 0 or not sf.exists():
            sys.exit(f"scaling.py: machine run failed (exit {code}): {' '.join(cmd)}")
        times.append(json.loads(sf.read_text())["run_seconds"])
    return max(times)


def run_point(a, out, problem, ranks, job, rep):
    jobs = out / "jobs"
    runs = out / "runs"
    jf = jobs / f"{job['name']}.json"
    jf.write_text(json.dumps(job, indent=1) + "\n")
    sf = runs / f"{job['name']}-{rep}.summary.json"
    cmd = launch_cmd(a, ranks) + [a.dirk, "run", str(jf), "--threads", str(a.threads),
                                  "--summary", str(sf), *shlex.split(a.dirk_args)]
    if a.dry_run:
        print("  " + " ".join(shlex.quote(c) for c in cmd))
        return None
    env = run_env(a)
    if sf.exists():
        sf.unlink()
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=a.timeout)
        text = p.stdout.decode(errors="replace")
        code = p.returncode
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"").decode(errors="replace") + f"\n[timed out after {a.timeout} s]"
        code = -1
    (runs / f"{job['name']}-{rep}.log").write_text(text)
    if code != 0 or not sf.exists():
        sys.exit(f"scaling.py: run failed (exit {code}): {' '.join(cmd)}\n{text[-3000:]}")
    s = json.loads(sf.read_text())
    if s.get("ranks") != ranks:
        sys.exit(f"scaling.py: asked for {ranks} ranks, the summary says {s.get('ranks')}: "
                 f"{' '.join(cmd)}")
    return {"run_seconds": s["run_seconds"], "wall_seconds": s["wall_seconds"],
            "launch_seconds": time.monotonic() - t0, "threads": s.get("threads_per_rank")}


def measure_machine(a):
    return (not a.no_machine and not a.dry_run and a.launcher == "mpirun"
            and a.ranks[0] == 1 and len(a.ranks) > 1)


def paired_efficiency(problem, r0, t0s, ranks, ts):
    """The efficiency at `ranks` against `r0` from each round's own pair of runs (both
    taken within seconds of each other), median over the rounds: the drift of a shared
    machine's load between rounds cancels out of it, which the best-of figure cannot
    promise. None without a full set of rounds."""
    if len(t0s) != len(ts) or not ts:
        return None
    if problem == "strong":
        ratios = [r0 * t0 / (ranks * t) for t0, t in zip(t0s, ts)]
    else:
        ratios = [t0 / t for t0, t in zip(t0s, ts)]
    return statistics.median(ratios)


def machine_run(a, out, copies, rep, raw):
    """One repeat of the weak sweep's machine ceiling for `copies` (see run_machine)."""
    job, (h, w) = job_for(a, "weak", 1)
    t = run_machine(a, out, copies, job, rep)
    raw.append({"problem": "machine", "ranks": copies, "repeat": rep,
                "grid": [h, w], "run_seconds": t, "load": loadavg()})
    return t


def machine_rows(a, t1, copies_times, rows):
    """The weak sweep's machine ceiling for every rank count R > 1 (see run_machine):
    efficiency = T(1 rank alone) / T(R independent copies at once), best of the repeats."""
    _, (h, w) = job_for(a, "weak", 1)
    for copies, times in copies_times.items():
        t = min(times)
        eff = t1 / t
        print(f"  machine {copies:2} independent 1-rank runs at once, {h}x{w} each  best "
              f"{t:.3f} s of {', '.join(f'{x:.3f}' for x in times)}: ceiling "
              f"{eff * 100:.1f} %", flush=True)
        rows.append({"ranks": copies, "threads": a.threads, "problem": "machine",
                     "size": f"{copies}*{h}x{w}", "seconds": f"{t:.6f}",
                     "speedup": f"{copies * eff:.4f}", "efficiency": f"{eff:.4f}"})


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


# ---------------------------------------------------------------------------------------
# SVG, by hand


def nice_ticks(lo, hi, n=5):
    """About n round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** int(f"{raw:e}".split("e")[1])
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = step * int(lo // step)
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        if t >= lo - step * 1e-9:
            ticks.append(round(t, 10))
        t += step
    return ticks, step


def fmt(v):
    return f"{v:g}" if abs(v) >= 0.01 or v == 0 else f"{v:.2e}"


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


COLORS = {"strong": "#1f77b4", "weak": "#d62728", "machine": "#2ca02c", "ideal": "#7f7f7f"}


def svg_plot(path, title, ylabel, series, xs, ideal, ymin=None, ymax=None, percent=False,
             note=""):
    """series: {label: (color, [(x, y), ...])}; ideal: [(x, y), ...] drawn dashed."""
    W, H = 800, 440
    ml, mr, mt, mb = 70, 250, 40, 70
    pw, ph = W - ml - mr, H - mt - mb
    xlo, xhi = min(xs), max(xs)
    if xlo == xhi:
        xlo, xhi = xlo - 1, xhi + 1
    ys = [y for _, pts in series.values() for _, y in pts] + [y for _, y in ideal]
    lo = min(ys) if ymin is None else ymin
    hi = max(ys) if ymax is None else max(ymax, max(ys))
    yt, step = nice_ticks(lo, hi)
    ylo, yhi = min(yt[0], lo), max(yt[-1], hi)
    if yhi - ylo < 1e-12:
        yhi = ylo + 1

    def X(x):
        return ml + (x - xlo) / (xhi - xlo) * pw

    def Y(y):
        return mt + ph - (y - ylo) / (yhi - ylo) * ph

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{ml + pw / 2}" y="22" text-anchor="middle" font-size="15">{esc(title)}</text>']
    # grid and ticks
    for t in yt:
        y = Y(t)
        o.append(f'<line x1="{ml}" y1="{y:.1f}" x2="{ml + pw}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        o.append(f'<line x1="{ml - 5}" y1="{y:.1f}" x2="{ml}" y2="{y:.1f}" stroke="black"/>')
        label = f"{t * 100:g} %" if percent else fmt(t)
        o.append(f'<text x="{ml - 8}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for x in xs:
        px = X(x)
        o.append(f'<line x1="{px:.1f}" y1="{mt}" x2="{px:.1f}" y2="{mt + ph}" stroke="#f0f0f0"/>')
        o.append(f'<line x1="{px:.1f}" y1="{mt + ph}" x2="{px:.1f}" y2="{mt + ph + 5}" '
                 f'stroke="black"/>')
        o.append(f'<text x="{px:.1f}" y="{mt + ph + 19}" text-anchor="middle">{x}</text>')
    # axes
    o.append(f'<line x1="{ml}" y1="{mt + ph}" x2="{ml + pw}" y2="{mt + ph}" stroke="black"/>')
    o.append(f'<line x1="{ml}" y1="{mt}" x2="{ml}" y2="{mt + ph}" stroke="black"/>')
    o.append(f'<text x="{ml + pw / 2}" y="{mt + ph + 40}" text-anchor="middle">MPI ranks</text>')
    if note:
        o.append(f'<text x="{ml}" y="{H - 8}" font-size="10" fill="#555">{esc(note)}</text>')
    o.append(f'<text transform="translate(18,{mt + ph / 2}) rotate(-90)" '
             f'text-anchor="middle">{esc(ylabel)}</text>')

    def polyline(pts, color, dash=""):
        d = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in pts)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        return (f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"'
                f'{extra}/>')

    o.append(polyline(ideal, COLORS["ideal"], "6,4"))
    for label, (color, pts) in series.items():
        if not pts:
            continue
        o.append(polyline(pts, color))
        for x, y in pts:
            o.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="4" fill="{color}">'
                     f'<title>{esc(label)}: {x} ranks, '
                     f'{(f"{y * 100:.1f} %" if percent else f"{y:.3f}")}</title></circle>')
    # legend
    lx, ly = ml + pw + 18, mt + 10
    entries = [(label, color, "") for label, (color, _) in series.items()]
    entries.append(("ideal", COLORS["ideal"], "6,4"))
    for i, (label, color, dash) in enumerate(entries):
        y = ly + i * 20
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        o.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 24}" y2="{y}" stroke="{color}" '
                 f'stroke-width="2"{extra}/>')
        o.append(f'<text x="{lx + 30}" y="{y + 4}">{esc(label)}</text>')
    o.append("</svg>")
    Path(path).write_text("\n".join(o) + "\n")


# ---------------------------------------------------------------------------------------


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    out = Path(a.out)
    (out / "jobs").mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    if not a.dry_run:
        if not (Path(a.dirk).is_file() or shutil.which(a.dirk)):
            sys.exit(f"scaling.py: no dirk binary at {a.dirk} (build it: cargo build --release, "
                     "or pass --dirk PATH)")
        if not shutil.which(a.launcher):
            sys.exit(f"scaling.py: {a.launcher} not found on PATH")
    print(f"scaling.py: {a.workload}, sweeps {','.join(a.sweeps)}, ranks "
          f"{','.join(map(str, a.ranks))}, {a.threads} thread(s) per rank, {a.steps} steps, "
          f"best of {a.repeats}, launcher {a.launcher}, load average {loadavg():.2f}")
    started = datetime.datetime.now(datetime.timezone.utc)
    rows, raw, paired, vs_ceiling = [], [], {}, {}
    for problem in a.sweeps:
        # Rounds: every point (and the machine ceiling's copies) once per round, so that the
        # load of a shared machine, which drifts within minutes, weighs on all points alike.
        points = [(ranks, *job_for(a, problem, ranks)) for ranks in a.ranks]
        machine = problem == "weak" and measure_machine(a)
        times = {ranks: [] for ranks in a.ranks}
        copies_times = {copies: [] for copies in a.ranks[1:]} if machine else {}
        for rep in range(a.repeats):
            for ranks, job, (h, w) in points:
                r = run_point(a, out, problem, ranks, job, rep)
                if r is None:
                    continue
                times[ranks].append(r["run_seconds"])
                raw.append({"problem": problem, "ranks": ranks, "repeat": rep,
                            "grid": [h, w], "tiles": job["workload"]["tiles"],
                            "load": loadavg(), **r})
            for copies, ts in copies_times.items():
                ts.append(machine_run(a, out, copies, rep, raw))
            if a.dry_run:
                break
        best = {}
        for ranks, job, (h, w) in points:
            if not times[ranks]:
                continue
            best[ranks] = min(times[ranks])
            print(f"  {problem:6} {ranks:3} ranks  grid {h}x{w}  tiles "
                  f"{job['workload']['tiles'][0]}x{job['workload']['tiles'][1]}  "
                  f"best {best[ranks]:.3f} s of {', '.join(f'{t:.3f}' for t in times[ranks])}",
                  flush=True)
            r0 = a.ranks[0]
            t0 = best[r0]
            if problem == "strong":
                speedup = r0 * t0 / best[ranks]
                eff = speedup / ranks
            else:
                eff = t0 / best[ranks]
                speedup = ranks * eff
            rows.append({"ranks": ranks, "threads": a.threads, "problem": problem,
                         "size": f"{h}x{w}", "seconds": f"{best[ranks]:.6f}",
                         "speedup": f"{speedup:.4f}", "efficiency": f"{eff:.4f}"})
            paired[(problem, ranks)] = paired_efficiency(problem, r0, times[r0], ranks,
                                                         times[ranks])
        if copies_times and best.get(1):
            machine_rows(a, best[1], copies_times, rows)
            # Per round: the R copies' time over the R-rank run's, both from that round.
            for copies, ms in copies_times.items():
                if len(ms) == len(times[copies]) and ms:
                    vs_ceiling[copies] = statistics.median(
                        m / t for m, t in zip(ms, times[copies]))
    if a.dry_run:
        return 0
    with open(out / "scaling.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=["ranks", "threads", "problem", "size", "seconds",
                                           "speedup", "efficiency"])
        wr.writeheader()
        wr.writerows(rows)
    meta = {
        "command": "python3 " + " ".join(shlex.quote(x) for x in
                                         [sys.argv[0]] + (sys.argv[1:] if argv is None else argv)),
        "started_utc": started.isoformat(timespec="seconds"),
        "host": socket.gethostname(), "cpus": os.cpu_count(), "platform": platform.platform(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "launcher": a.launcher,
        "workload": a.workload, "grid": a.grid, "weak_grid": a.weak_grid, "steps": a.steps,
        "tiles_per_rank": a.tiles_per_rank, "tile_cols": a.tile_cols, "halo": a.halo,
        "threads": a.threads,
        "repeats": a.repeats, "launcher_args": a.launcher_args, "dirk_args": a.dirk_args,
        "load_after": loadavg(), "runs": raw,
        "paired_efficiency": [{"problem": p, "ranks": r, "median": e}
                              for (p, r), e in paired.items() if e is not None],
        "paired_weak_over_ceiling": [{"ranks": r, "median": e}
                                     for r, e in vs_ceiling.items()],
    }
    (out / "scaling.json").write_text(json.dumps(meta, indent=1) + "\n")

    def pts(problem, key):
        return [(r["ranks"], float(r[key])) for r in rows if r["problem"] == problem]

    xs = a.ranks
    tag = f"{a.workload}, {a.threads} thread(s)/rank"
    series_s = {}
    series_e = {}
    if "strong" in a.sweeps:
        g = f"{a.grid[0]}x{a.grid[1]}"
        series_s[f"strong ({g})"] = (COLORS["strong"], pts("strong", "speedup"))
        series_e[f"strong ({g})"] = (COLORS["strong"], pts("strong", "efficiency"))
    if "weak" in a.sweeps:
        g = f"R·{a.weak_grid[0]}x{a.weak_grid[1]}"
        series_s[f"weak, scaled ({g})"] = (COLORS["weak"], pts("weak", "speedup"))
        series_e[f"weak ({g})"] = (COLORS["weak"], pts("weak", "efficiency"))
        if pts("machine", "efficiency"):
            m = [(1, 1.0)] + pts("machine", "efficiency")
            label = "machine ceiling"
            series_s[label] = (COLORS["machine"], [(x, x * e) for x, e in m])
            series_e[label] = (COLORS["machine"], m)
    halo = f", halo {a.halo}" if a.workload == "life" else ""
    note = (f"{a.steps} steps, {a.tiles_per_rank} tile rows per rank{halo}, best of {a.repeats} "
            f"(run_seconds), {a.launcher}; {socket.gethostname()}, {os.cpu_count()} CPUs, "
            f"{started:%Y-%m-%d %H:%M} UTC")
    svg_plot(out / "speedup.svg", f"Speedup — {tag}", "speedup", series_s, xs,
             [(x, float(x)) for x in xs], ymin=0, note=note)
    svg_plot(out / "efficiency.svg", f"Parallel efficiency — {tag}", "efficiency", series_e,
             xs, [(x, 1.0) for x in xs], ymin=0, ymax=1.1, percent=True, note=note)
    print(f"scaling.py: wrote {out / 'scaling.csv'}, {out / 'speedup.svg'}, "
          f"{out / 'efficiency.svg'}, {out / 'scaling.json'}")
    for r in rows:
        print(f"  {r['problem']:7} ranks {r['ranks']:3}  {r['size']:>13}  {r['seconds']} s  "
              f"speedup {float(r['speedup']):.2f}  efficiency {float(r['efficiency']) * 100:.1f} %")
    for (p, ranks), e in paired.items():
        if e is not None and ranks != a.ranks[0]:
            print(f"  {p} efficiency at {ranks} ranks, median over the {a.repeats} rounds of "
                  f"each round's own ratio: {e * 100:.1f} %")
    eff = {(r["problem"], r["ranks"]): float(r["efficiency"]) for r in rows}
    for (p, ranks), m in sorted(eff.items()):
        if p == "machine" and ("weak", ranks) in eff:
            print(f"  weak efficiency at {ranks} ranks relative to the machine ceiling: "
                  f"{eff[('weak', ranks)] / m * 100:.1f} %"
                  + (f" (paired, median over the rounds of each round's own: "
                     f"{vs_ceiling[ranks] * 100:.1f} %)" if ranks in vs_ceiling else ""))
            if m < 0.95:
                print(f"  note: {ranks} independent copies of the 1-rank job already run "
                      f"{(1 / m - 1) * 100:.0f} % slower side by side than one alone:\n"
                      f"        the host is loaded, and the weak figure measures it as much as "
                      f"the runtime;\n        rerun when it is quieter (load average in "
                      f"scaling.json)")
            elif m > 1.0:
                print(f"  note: the {ranks} copies side by side beat the 1-rank job alone: the "
                      f"1-rank time drifted between\n        rounds (host noise), so every "
                      f"figure here carries at least that much noise")
    # The host's own run-to-run noise, from the repeats of the first point of each sweep: a
    # weak figure within this of a target is not decided by one sweep.
    for p in ("strong", "weak"):
        first = [x["run_seconds"] for x in raw
                 if x["problem"] == p and x["ranks"] == a.ranks[0]]
        if len(first) > 1:
            print(f"  noise: the {len(first)} repeats of the {p} {a.ranks[0]}-rank point spread "
                  f"{(max(first) / min(first) - 1) * 100:.1f} % (slowest over fastest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
