#!/usr/bin/env python3
"""Cross-rank work stealing (issue 8's benchmark): --steal on against --steal off, side by side.

Cases, each run alternately off/on REPEATS times; the median run time (summary
`run_seconds`: the common start to the last rank's end) of each mode and their ratio:

  hog     2 ranks x 1 thread, rank r pinned to core r (taskset), a CPU hog spinning on core 0;
          16 equal `busy` chains dealt out evenly (8 per rank). Target: off/on >= 1.3.
  skew-R  R ranks x 1 thread (R = 2, 4; 4 oversubscribes a 2-core machine), no pinning;
          16 chains whose `busy` iterations vary 10x: the heavy ones are the first 16/R
          chains, which the placement deals to rank 0 (the plan sees only the layout, not the
          costs). Target: off/on >= 1.3.
  life    Life 4096^2, 4x4 tiles, 2 ranks x 1 thread: a balanced job. Target: on costs <= 2 %.

The per-task overhead benchmark (`cargo bench --bench overhead`) prints steal on and off at
2 ranks too.

Usage: benches/steal.py [--repeats R] [--cases hog,skew-2,skew-4,life] [--dirk PATH]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--repeats", type=int, default=3, help="runs of each mode per case (default 3)")
ap.add_argument("--cases", default="hog,skew-2,skew-4,life")
ap.add_argument("--iterations", type=int, default=20_000_000,
                help="busy iterations of a heavy (or hog-case) task (default 20e6, ~20 ms)")
ap.add_argument("--life-steps", type=int, default=400)
ap.add_argument("--dirk", default=os.path.join(root, "target", "release", "dirk"))
a = ap.parse_args()

env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
tmp = tempfile.mkdtemp(prefix="dirk-stealbench-")
pin = os.path.join(tmp, "pin.sh")
with open(pin, "w") as f:
    f.write('#!/bin/sh\nexec taskset -c "$OMPI_COMM_WORLD_RANK" "$@"\n')
os.chmod(pin, 0o755)


def job(name, workload):
    path = os.path.join(tmp, f"{name}.json")
    json.dump({"dirk": 1, "name": name, "workload": workload}, open(path, "w"))
    return path


def chains(name, iterations, length=10):
    return job(name, {"kind": "chains", "chains": len(iterations), "length": length,
                      "size": 1000, "iterations": iterations})


def run(path, ranks, steal, pinned=False):
    summary = os.path.join(tmp, "s.json")
    cmd = ["timeout", "600", "mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "none"]
    cmd += [pin] if pinned else []
    cmd += [a.dirk, "run", path, "--threads", "1", "-q", "--steal", steal, "--summary", summary]
    subprocess.run(cmd, env=env, check=True)
    s = json.load(open(summary))
    return s["run_seconds"], s.get("tasks_stolen", 0)


def case(title, path, ranks, pinned=False):
    times = {"off": [], "on": []}
    stolen = []
    for _ in range(a.repeats):
        for mode in ("off", "on"):
            t, n = run(path, ranks, mode, pinned)
            times[mode].append(t)
            if mode == "on":
                stolen.append(n)
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    fmt = lambda xs: ", ".join(f"{x:.3f}" for x in xs)
    print(f"{title:8} off {off:7.3f} s  on {on:7.3f} s  off/on {off / on:5.2f}x  "
          f"(on costs {100 * (on / off - 1):+5.1f} %)  stolen {stolen}  "
          f"runs off [{fmt(times['off'])}] on [{fmt(times['on'])}]", flush=True)


with open("/proc/loadavg") as f:
    load = f.read().split()[0]
cpu = next((l.split(":")[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"# steal on vs off, median of {a.repeats} alternating runs each; {cpu}, {os.cpu_count()} cores, "
      f"load {load}; {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
H = a.iterations
for c in a.cases.split(","):
    if c == "hog":
        path = chains("hog", [H] * 16)
        hog = subprocess.Popen(["taskset", "-c", "0", "sh", "-c", "while :; do :; done"])
        try:
            time.sleep(0.2)
            case("hog", path, 2, pinned=True)
        finally:
            hog.kill()
            hog.wait()
    elif c.startswith("skew-"):
        ranks = int(c.split("-")[1])
        heavy = 16 // ranks
        path = chains(c, [H] * heavy + [H // 10] * (16 - heavy))
        case(c, path, ranks)
    elif c == "life":
        path = job("life", {"kind": "life", "grid": [4096, 4096], "tiles": [4, 4],
                            "steps": a.life_steps, "boundary": "periodic", "seed": 1})
        case("life", path, 2)
    else:
        raise SystemExit(f"unknown case {c}")
