#!/usr/bin/env python3
"""Peak memory per rank against the data the rank owns (issue 3: at most 1.5x the data the
rank owns plus its halos).

For each workload this runs the benchmark-size job and the *same task graph* on a tiny grid
(same tiles, steps and ranks, 16 x 16 cells), each rank under /usr/bin/time, and reports

    (peak RSS of the real job - peak RSS of the tiny job) / bytes the rank owns

The tiny run carries every cost that does not grow with the data: the binary, MPI's shared
memory segments and eager buffers, HDF5, the thread pool, the plan and per-task records. What
is left is what the data costs: live tiles, extra versions of them, halos, messages in flight
and allocator slack. The raw RSS figures are printed too, next to an empty run (one tiny tile),
so nothing is hidden by the choice of baseline. Rank 0 also gathers every output tile to write
the result file (the output contract), so it is reported apart; the figure is for the other
ranks.

Usage: benches/memory.py [--ranks 2] [--threads 1] [--repeat 2] [--workloads life heat]
                         [--halo K] [--tiles R,C] [--dirk PATH]

--tiles R,C cuts the grids otherwise than 4 x 4 (8,1: row strips). --halo K runs Life with
deep halos (strips K deep, once every K steps; at most the tiny grid's tile side): each step between exchanges makes a frame up to K-1 cells larger
around its tile, and the buffer pool lets a frame's buffer serve a tile (up to 1/8 more
room than asked), so this is where a value could carry unused capacity.
"""
import argparse
import json
import os
import re
import subprocess
import tempfile

p = argparse.ArgumentParser()
p.add_argument("--ranks", type=int, default=2)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--repeat", type=int, default=2)
p.add_argument("--workloads", nargs="+", default=["life", "heat"])
p.add_argument("--halo", type=int, default=1, help="Life's deep halos, at most the tiny grid's tile side (default 1)")
p.add_argument("--dirk", default=None, metavar="PATH",
               help="the binary to measure (default: build and use target/release/dirk)")
p.add_argument("--tiles", default="4,4", metavar="R,C",
               help="tiles along rows and columns, each at most 16 (default 4,4)")
args = p.parse_args()
tiles = [int(x) for x in args.tiles.split(",") if x.strip().isdigit()]
if len(tiles) != 2 or not all(1 <= t <= 16 for t in tiles):
    p.error("--tiles wants R,C, each 1 to 16 (the tiny grid is 16 x 16)")
smallest = min([16 // t for t in tiles if t > 1] or [16])
if not 1 <= args.halo <= smallest:
    p.error(f"--halo must be 1 to {smallest} (the tiny grid's smallest tile side here)")

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
if args.dirk:
    dirk = os.path.abspath(args.dirk)
else:
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=root, env=env, check=True)
    dirk = os.path.join(target, "release", "dirk")

# Benchmark sizes (jobs/bench/) and the bytes per cell of each workload's grid.
WORKLOADS = {
    "life": ({"kind": "life", "grid": [8192, 8192], "tiles": [4, 4], "steps": 20,
              "boundary": "periodic", "seed": 1}, 1),
    "heat": ({"kind": "heat", "grid": [8192, 8192], "tiles": [4, 4], "steps": 20,
              "alpha": 0.2, "seed": 1}, 8),
}


def peak_rss_mib(workload, tmp):
    """Peak RSS (MiB) of each rank, rank order."""
    job = os.path.join(tmp, "job.json")
    with open(job, "w") as f:
        json.dump({"dirk": 1, "workload": workload}, f)
    wrapper = os.path.join(tmp, "rank.sh")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec /usr/bin/time -o "$DIRK_RSS.$OMPI_COMM_WORLD_RANK" '
                '-f "%M" "$@"\n')
    os.chmod(wrapper, 0o755)
    out = os.path.join(tmp, "rss")
    subprocess.run(["mpirun", "-n", str(args.ranks), "--oversubscribe", "--bind-to", "none",
                    "-x", "DIRK_RSS=" + out, wrapper, dirk, "run", job,
                    "--output", os.path.join(tmp, "out.h5"), "--threads", str(args.threads)],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rss = []
    for r in range(args.ranks):
        with open(f"{out}.{r}") as f:
            rss.append(int(re.findall(r"\d+", f.read())[-1]) / 1024)
    return rss


with tempfile.TemporaryDirectory() as tmp:
    for name in args.workloads:
        real, cell = WORKLOADS[name]
        real = dict(real, tiles=tiles)
        if name == "life" and args.halo > 1:
            real = dict(real, halo=args.halo)
        tiny = dict(real, grid=[16, 16])
        empty = dict(real, grid=[16, 16], tiles=[1, 1], steps=1)
        owned = real["grid"][0] * real["grid"][1] * cell / args.ranks / 2**20
        halo = f", halo {args.halo}" if "halo" in real else ""
        print(f"{name} {real['grid'][0]}x{real['grid'][1]}, tiles {tiles[0]}x{tiles[1]}, "
              f"{real['steps']} steps{halo}, "
              f"{args.ranks} ranks x {args.threads} threads: {owned:.0f} MiB owned per rank")
        for i in range(args.repeat):
            e, t, r = (peak_rss_mib(w, tmp) for w in (empty, tiny, real))
            others = range(1, args.ranks) if args.ranks > 1 else range(1)
            ratio = max((r[k] - t[k]) / owned for k in others)
            print(f"  run {i + 1}: peak RSS MiB per rank: real {[round(x) for x in r]}, "
                  f"same graph 16x16 {[round(x) for x in t]}, empty {[round(x) for x in e]}")
            print(f"         (real - same graph) / owned, ranks 1..: {ratio:.2f} "
                  f"(rank 0 with the gathered output: {(r[0] - t[0]) / owned:.2f}); "
                  f"(real - empty) / owned: "
                  f"{max((r[k] - e[k]) / owned for k in others):.2f}")
