#!/usr/bin/env python3
"""dirk's `life` workload against the hand-written MPI + rayon baseline
(benches/life_baseline.rs), side by side in one run: same grid, same seed, same ranks and
threads per rank, alternating runs, best of `--repeat`.

dirk's time per step comes from its Chrome trace: on each rank, (end of its last step-S task −
end of its last step-W task) / (S − W), W = `--warmup`; the slowest rank counts. So start-up,
the initial grid and the gather of the result are not counted, as in the baseline, which times
its step loop. Peak RSS per rank comes from /usr/bin/time around each rank.

Usage: benches/compare_life.py [--n 8192] [--tiles 4 4] [--ranks 2] [--threads 1] [--steps 40]
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=8192)
p.add_argument("--tiles", type=int, nargs=2, default=[4, 4])
p.add_argument("--ranks", type=int, default=2)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--steps", type=int, default=40)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--repeat", type=int, default=3)
args = p.parse_args()

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           RAYON_NUM_THREADS=str(args.threads), CARGO_TARGET_DIR=target)
subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=root, env=env, check=True)
subprocess.run(["cargo", "build", "--release", "--quiet", "--bench", "life_baseline"], cwd=root,
               env=env, check=True)
base = max((f for f in glob.glob(os.path.join(target, "release", "deps", "life_baseline-*"))
            if not f.endswith(".d")), key=os.path.getmtime)
dirk = os.path.join(target, "release", "dirk")
mpi = ["timeout", "600", "mpirun", "-n", str(args.ranks), "--oversubscribe", "--bind-to", "none",
       "/usr/bin/time", "-f", "peak_rss_kb %M"]
tmp = tempfile.mkdtemp(prefix="dirk-life-")


def rss(stderr):
    return sorted(int(k) // 1024 for k in re.findall(r"peak_rss_kb (\d+)", stderr))


def run_baseline():
    out = subprocess.run(mpi + [base, str(args.n), str(args.steps), "1"], env=env,
                         capture_output=True, text=True, check=True)
    ms = float(re.search(r"([0-9.]+) ms/step", out.stdout).group(1))
    pop = int(re.search(r"population (\d+)", out.stdout).group(1))
    return ms, rss(out.stderr), pop


def run_dirk(steps, output=None):
    job = os.path.join(tmp, "life.json")
    trace = os.path.join(tmp, "trace.json")
    with open(job, "w") as f:
        json.dump({"dirk": 1, "workload": {"kind": "life", "grid": [args.n, args.n],
                                           "tiles": args.tiles, "steps": steps,
                                           "boundary": "periodic", "seed": 1}}, f)
    cmd = mpi + [dirk, "run", job, "--threads", str(args.threads), "--trace", trace]
    if output:
        cmd += ["--output", output]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    with open(trace) as f:
        ev = json.load(f)
    ev = ev["traceEvents"] if isinstance(ev, dict) else ev
    last = {}  # (rank, step) -> latest end
    for e in ev:
        m = e.get("ph") == "X" and re.match(r"life\.(\d+)\.\d+_\d+$", e["args"]["id"])
        if m:
            k = (e["pid"], int(m.group(1)))
            last[k] = max(last.get(k, 0.0), e["ts"] + e["dur"])
    per_rank = [(last[(r, steps)] - last[(r, args.warmup)]) / (steps - args.warmup) / 1e3
                for r in range(args.ranks) if (r, steps) in last]
    return max(per_rank), rss(out.stderr)


load = os.getloadavg()[0]
print(f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; "
      f"load average {load:.2f}")
print(f"life {args.n}x{args.n}, periodic, tiles {args.tiles[0]}x{args.tiles[1]}, {args.ranks} ranks x "
      f"{args.threads} threads, {args.steps} steps (dirk timed from step {args.warmup})")
b_best, d_best = float("inf"), float("inf")
for i in range(args.repeat):
    b, b_rss, pop = run_baseline()
    d, d_rss = run_dirk(args.steps)
    print(f"  run {i + 1}: baseline {b:.2f} ms/step (rss MiB {b_rss}), dirk {d:.2f} ms/step "
          f"(rss MiB {d_rss})")
    b_best, d_best = min(b_best, b), min(d_best, d)
# Same result: the population of dirk's final grid equals the baseline's.
out = os.path.join(tmp, "grid.h5")
run_dirk(args.steps, out)
try:
    import h5py
    with h5py.File(out) as f:
        dpop = int(f["grid"][()].sum(dtype="u8"))
    print(f"population after {args.steps} steps: dirk {dpop}, baseline {pop}"
          f" ({'same' if dpop == pop else 'DIFFERENT'})")
except ImportError:
    pass
print(f"best: baseline {b_best:.2f} ms/step, dirk {d_best:.2f} ms/step, "
      f"ratio {d_best / b_best:.3f} (target <= 1.1)")
owned = args.n * args.n / args.ranks / 2**20
print(f"grid bytes owned per rank: {owned:.0f} MiB (u8)")
