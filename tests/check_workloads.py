#!/usr/bin/env python3
"""Checks dirk's tiled workloads against numpy and LAPACK through h5py: a second, independent
reference beside tests/workloads.rs. Writes each workload's input with h5py, runs the built
binary under mpirun at 1-4 ranks, and compares:

  life     numpy.roll (periodic) step, exactly (also with deep halos)
  heat     numpy slicing, to 1e-12
  conv2d   numpy correlation over a zero-padded image, to 1e-12
  gemm     numpy A @ B (OpenBLAS), relative error < 1e-12
  cholesky numpy.linalg.cholesky (LAPACK dpotrf), relative error < 1e-12, and LLᵀ = A
  reduce   math.fsum, to 1e-12 relative

and that every rank count gives the same bits. Usage: tests/check_workloads.py [DIRK_BINARY]
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
dirk = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "dirk")
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
tmp = tempfile.mkdtemp(prefix="dirk-check-")
rng = np.random.default_rng(42)
failures = []


def run(workload, dataset):
    """Runs the workload at 1-4 ranks; returns the dataset, checked equal across rank counts."""
    job = os.path.join(tmp, "job.json")
    with open(job, "w") as f:
        json.dump({"dirk": 1, "workload": workload}, f)
    results = []
    for n in (1, 2, 3, 4):
        out = os.path.join(tmp, f"out{n}.h5")
        subprocess.run(["timeout", "120", "mpirun", "-n", str(n), "--oversubscribe", "--bind-to",
                        "none", dirk, "run", job, "--output", out], env=env, check=True,
                       capture_output=True)
        with h5py.File(out) as f:
            results.append(f[dataset][()])
    for n, r in zip((2, 3, 4), results[1:]):
        if not np.array_equal(r, results[0]):
            failures.append(f"{workload['kind']}: {n} ranks differ from 1 rank")
    return results[0]


def check(name, ok, detail):
    print(f"{name:9s} {'ok' if ok else 'FAILED'}  {detail}")
    if not ok:
        failures.append(name)


def write(name, **datasets):
    path = os.path.join(tmp, name)
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f[k] = v
    return path


# life: a random torus, 25 steps.
g0 = (rng.random((45, 38)) < 0.35).astype(np.uint8)
path = write("life.h5", grid=g0)
got = run({"kind": "life", "grid": [45, 38], "tiles": [3, 4], "steps": 25, "boundary": "periodic",
           "init": {"file": path, "dataset": "grid"}}, "grid")
g = g0.copy()
for _ in range(25):
    n = sum(np.roll(np.roll(g, di, 0), dj, 1) for di in (-1, 0, 1) for dj in (-1, 0, 1)
            if (di, dj) != (0, 0))
    g = ((n == 3) | ((g == 1) & (n == 2))).astype(np.uint8)
check("life", np.array_equal(got, g), f"population {int(g.sum())}")
# The same with deep halos: strips 4 deep, exchanged every 4 steps (25 = 6 x 4 + 1).
got = run({"kind": "life", "grid": [45, 38], "tiles": [3, 4], "steps": 25, "boundary": "periodic",
           "halo": 4, "init": {"file": path, "dataset": "grid"}}, "grid")
check("life/halo", np.array_equal(got, g), "halo 4")

# heat.
u0 = rng.random((40, 33))
path = write("heat.h5", u=u0)
got = run({"kind": "heat", "grid": [40, 33], "tiles": [3, 2], "steps": 30, "alpha": 0.25,
           "init": {"file": path, "dataset": "u"}}, "u")
u = u0.copy()
for _ in range(30):
    v = u.copy()
    v[1:-1, 1:-1] = u[1:-1, 1:-1] + 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2]
                                            - 4 * u[1:-1, 1:-1])
    u = v
err = np.abs(got - u).max()
check("heat", err <= 1e-12, f"max error {err:.2e}")

# conv2d.
img = rng.random((31, 27))
k = rng.random((3, 5)) - 0.5
path = write("img.h5", img=img)
got = run({"kind": "conv2d", "image": [31, 27], "kernel": k.tolist(), "tiles": [4, 3],
           "init": {"file": path, "dataset": "img"}}, "out")
pad = np.pad(img, ((1, 1), (2, 2)))
ref = sum(k[a, b] * pad[a:a + 31, b:b + 27] for a in range(3) for b in range(5))
err = np.abs(got - ref).max()
check("conv2d", err <= 1e-12, f"max error {err:.2e}")

# gemm.
a = rng.random((90, 70)) - 0.5
b = rng.random((70, 55)) - 0.5
path = write("ab.h5", A=a, B=b)
got = run({"kind": "gemm", "m": 90, "k": 70, "n": 55, "tile": 32, "init": {"file": path}}, "C")
ref = a @ b
err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
check("gemm", err < 1e-12, f"relative error {err:.2e}")

# cholesky from an init file: an SPD matrix made here.
m = rng.random((130, 130))
spd = m @ m.T + 130 * np.eye(130)
path = write("spd.h5", A=spd)
got = run({"kind": "cholesky", "n": 130, "tile": 32, "init": {"file": path, "dataset": "A"}}, "L")
ref = np.linalg.cholesky(spd)
err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
res = np.linalg.norm(got @ got.T - spd) / np.linalg.norm(spd)
upper = np.abs(np.triu(got, 1)).max()
check("cholesky", err < 1e-12 and res < 1e-12 and upper == 0,
      f"vs LAPACK {err:.2e}, residual {res:.2e}, max above diagonal {upper}")

# reduce.
x = rng.random(123_457)
path = write("x.h5", x=x)
got = float(run({"kind": "reduce", "n": 123457, "chunks": 9, "init": {"file": path, "dataset": "x"}},
                "sum"))
ref = math.fsum(x)
check("reduce", abs(got - ref) <= 1e-12 * abs(ref), f"{got!r} vs fsum {ref!r}")

if failures:
    sys.exit("FAILED: " + ", ".join(failures))
print("all workloads agree with numpy/LAPACK")
