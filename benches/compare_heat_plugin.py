#!/usr/bin/env python3
"""A C plugin's tiled 5-point stencil against the built-in `heat` workload, side by side in one
run (issue 22): same grid, tiles, steps, ranks and threads per rank, alternating runs, best of
`--repeat`, both with stealing off so each runs exactly its plan.

The plugin (benches/plugins/bench_plugin.c, built here with cc -O3) runs the same loop as the
built-in `heat_step` (u + alpha*(n + s + e + w - 4u), left to right; the outer ring kept) as
`cbench::heat5` over the tile and its neighbours' one-cell strips, the strips cut by
`cbench::edge` beside the tile they come from, so only strips cross ranks, as in the built-in
workload. Its job file lists every task explicitly, each tile's tasks scoped to the rank of
its row block (the built-in workload's block placement). Initial tiles are `rand` per tile
(the workload's are windows of one global `rand`: the same work). No dataset is written
(`"outputs": []`). Figures: the run's `wall_seconds` from `--summary`, and the ratio.

A small grid first checks that the plugin job gives the built-in's bits where their initial
grids agree: one tile, so `rand` and the workload's window are the same array.

Usage: benches/compare_heat_plugin.py [--n 8192] [--tiles 4] [--ranks 2] [--threads 1]
       [--steps 20] [--repeat 3] [DIRK]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=8192)
p.add_argument("--tiles", type=int, default=4)
p.add_argument("--ranks", type=int, default=2)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--repeat", type=int, default=3)
p.add_argument("dirk", nargs="?")
args = p.parse_args()

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
dirk = args.dirk or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "dirk")
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
tmp = tempfile.mkdtemp(prefix="dirk-heat-plugin-")
lib = os.path.join(tmp, "libcbench.so")
subprocess.run(["cc", "-shared", "-fPIC", "-O3", "-I", os.path.join(root, "include"),
                os.path.join(root, "benches", "plugins", "bench_plugin.c"), "-o", lib], check=True)
sha = hashlib.sha256(open(lib, "rb").read()).hexdigest()
ALPHA = 0.1


def workload_job(n, tiles, steps, outputs):
    job = {"dirk": 1, "name": "heat-builtin",
           "workload": {"kind": "heat", "grid": [n, n], "tiles": [tiles, tiles],
                        "steps": steps, "alpha": ALPHA, "seed": 1}}
    if not outputs:
        job["outputs"] = []
    return job


def plugin_job(n, tiles, steps, ranks, outputs):
    """Every task of the tiled heat loop, by hand: rand tiles, edges, heat5 steps."""
    edges = [n * k // tiles for k in range(tiles + 1)]
    tasks = []

    def rank_of(i):
        return i * ranks // tiles

    def task(tid, op, a, i, params=None):
        t = {"id": tid, "op": op, "args": a, "scope": {"rank": rank_of(i)}}
        if params is not None:
            t["params"] = params
        tasks.append(t)

    # Strip templates: a plugin's result is shaped like its first array argument.
    likes = {}
    for i in range(tiles):
        h = edges[i + 1] - edges[i]
        for j in range(tiles):
            w = edges[j + 1] - edges[j]
            for shape in ([1, w], [h, 1]):
                key = (rank_of(i), tuple(shape))
                if key not in likes:
                    likes[key] = f"like.{key[0]}.{shape[0]}x{shape[1]}"
                    task(likes[key], "fill", [shape, 0.0], i)
            if tiles == 1:
                task(f"u.0.{i}_{j}", "rand", [[h, w]], i, {"seed": 1})
            else:
                task(f"u.0.{i}_{j}", "rand", [[h, w]], i, {"seed": 1 + i * tiles + j})
    for s in range(steps):
        cur = lambda i, j: f"u.{s}.{i}_{j}"  # noqa: E731
        for i in range(tiles):
            h = edges[i + 1] - edges[i]
            for j in range(tiles):
                w = edges[j + 1] - edges[j]
                # The strips this tile gives its neighbours: take 0 first row (to the
                # north neighbour's south side), 1 last row, 2 first column, 3 last column.
                for take, (di, dj), shape in ((0, (-1, 0), [1, w]), (1, (1, 0), [1, w]),
                                              (2, (0, -1), [h, 1]), (3, (0, 1), [h, 1])):
                    if 0 <= i + di < tiles and 0 <= j + dj < tiles:
                        like = likes[(rank_of(i), tuple(shape))]
                        task(f"e.{s}.{i}_{j}.{take}", "cbench::edge", [like, cur(i, j)], i,
                             {"take": take})
        for i in range(tiles):
            for j in range(tiles):
                side = lambda di, dj, take: (  # noqa: E731
                    f"e.{s}.{i + di}_{j + dj}.{take}"
                    if 0 <= i + di < tiles and 0 <= j + dj < tiles else 0.0)
                a = [cur(i, j), side(-1, 0, 1), side(1, 0, 0), side(0, -1, 3), side(0, 1, 2)]
                ring = [int(i == 0), int(i == tiles - 1), int(j == 0), int(j == tiles - 1)]
                task(f"u.{s + 1}.{i}_{j}", "cbench::heat5", a, i, {"alpha": ALPHA, "ring": ring})
    job = {"dirk": 1, "name": "heat-plugin", "plugins": [{"path": lib, "sha256": sha}],
           "tasks": tasks}
    if outputs:
        job["outputs"] = [f"u.{steps}.{i}_{j}" for i in range(tiles) for j in range(tiles)]
    else:
        job["outputs"] = []
    return job


def run(job, ranks, name, output=None):
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(job, f)
    summary = os.path.join(tmp, name + ".summary.json")
    cmd = ["timeout", "600", "mpirun", "-n", str(ranks), "--oversubscribe", dirk, "run", path,
           "--threads", str(args.threads), "--steal", "off", "--summary", summary]
    if output:
        cmd += ["--output", output]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{name}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    with open(summary) as f:
        return json.load(f)["wall_seconds"]


# Correctness: one 64x64 tile, so both start from rand(seed 1, [64, 64]).
a, b = os.path.join(tmp, "b.h5"), os.path.join(tmp, "p.h5")
run(workload_job(64, 1, 5, True), 1, "check-builtin", a)
run(plugin_job(64, 1, 5, 1, True), 1, "check-plugin", b)
with h5py.File(a) as fa, h5py.File(b) as fb:
    if not np.array_equal(fa["u"][()], fb["u.5.0_0"][()]):
        sys.exit("the plugin's heat steps differ from the built-in heat workload's")
print("check: cbench::heat5 gives the built-in heat workload's bits (64x64, 5 steps)")

load = open("/proc/loadavg").read().split()[0]
builtin, plugin = [], []
jb = workload_job(args.n, args.tiles, args.steps, False)
jp = plugin_job(args.n, args.tiles, args.steps, args.ranks, False)
for _ in range(args.repeat):
    builtin.append(run(jb, args.ranks, "builtin"))
    plugin.append(run(jp, args.ranks, "plugin"))
end_load = open("/proc/loadavg").read().split()[0]
b, q = min(builtin), min(plugin)
print(f"# heat {args.n}x{args.n}, tiles {args.tiles}x{args.tiles}, {args.steps} steps, "
      f"{args.ranks} ranks x {args.threads} threads, steal off, best of {args.repeat} "
      f"(alternating); load {load} -> {end_load}")
print(f"built-in heat      {b:.3f} s  (runs {', '.join(f'{x:.3f}' for x in builtin)})")
print(f"C plugin heat5     {q:.3f} s  (runs {', '.join(f'{x:.3f}' for x in plugin)})")
print(f"plugin / built-in  {q / b:.3f}x")
