#!/usr/bin/env python3
"""Checks dirk's kernel plugins against numpy through h5py (issue 22): builds the C plugin
(examples/plugins/heat_plugin.c) with cc and the Fortran one (scale_plugin.f90) with gfortran,
names them in jobs with their SHA-256, runs the built binary under mpirun at 1-3 ranks, and
compares exactly:

  cheat::heat5, cheat::axpy   numpy slicing (N + S + E + W - 4u, left to right), a*x + y
  fort::scale                 2*x + 1

with the jobs' initial grids read back from the output. Usage: tests/check_plugins.py [DIRK]
"""
import hashlib
import json
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
tmp = tempfile.mkdtemp(prefix="dirk-plugins-")
failures = []


def build(cmd, lib):
    subprocess.run(cmd + ["-o", os.path.join(tmp, lib)], check=True, cwd=tmp)
    with open(os.path.join(tmp, lib), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def heat(u, alpha, steps):
    for _ in range(steps):
        v = u.copy()
        c = u[1:-1, 1:-1]
        lap = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * c
        v[1:-1, 1:-1] = c + alpha * lap
        u = v
    return u


def run(job, name):
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(job, f)
    outs = []
    for n in (1, 2, 3):
        out = os.path.join(tmp, f"{name}{n}.h5")
        subprocess.run(["timeout", "120", "mpirun", "--oversubscribe", "-n", str(n), dirk, "run",
                        path, "--output", out, "-q"], check=True, env=env)
        with h5py.File(out) as f:
            outs.append({k: f[k][()] for k in f.keys()})
    return outs


def check(what, got, want):
    ok = np.array_equal(got, want)
    print(f"{what}: {'ok' if ok else 'MISMATCH'}")
    if not ok:
        failures.append(what)


src = os.path.join(root, "examples", "plugins")
sha_c = build(["cc", "-shared", "-fPIC", "-O2", "-I", os.path.join(root, "include"),
               os.path.join(src, "heat_plugin.c")], "libcheat.so")
job = {"dirk": 1, "plugins": [{"path": "libcheat.so", "sha256": sha_c}], "tasks": [
    {"id": "u0", "op": "rand", "args": [[37, 29]], "params": {"seed": 4}},
    {"id": "v0", "op": "rand", "args": [[37, 29]], "params": {"seed": 8}},
    {"id": "u1", "op": "cheat::heat5", "args": ["u0"], "params": {"alpha": 0.2}},
    {"id": "u2", "op": "cheat::heat5", "args": ["u1"], "params": {"alpha": 0.2}},
    {"id": "v1", "op": "cheat::heat5", "args": ["v0"], "params": {"alpha": 0.15}},
    {"id": "w", "op": "cheat::axpy", "args": ["u2", "v1"], "params": {"a": 1.5}}],
    "outputs": ["u0", "v0", "w"]}
for n, o in enumerate(run(job, "cheat"), 1):
    want = 1.5 * heat(o["u0"], 0.2, 2) + heat(o["v0"], 0.15, 1)
    check(f"C plugin heat5 + axpy, {n} ranks", o["w"], want)

if subprocess.run(["which", "gfortran"], capture_output=True).returncode == 0:
    sha_f = build(["gfortran", "-shared", "-fPIC", "-O2", "-ffp-contract=off",
                   os.path.join(src, "scale_plugin.f90")], "libfscale.so")
    job = {"dirk": 1, "plugins": [{"path": "libfscale.so", "sha256": sha_f}], "tasks": [
        {"id": "x", "op": "rand", "args": [[11, 13]], "params": {"seed": 2}},
        {"id": "y", "op": "fort::scale", "args": ["x"]}], "outputs": ["x", "y"]}
    for n, o in enumerate(run(job, "fscale"), 1):
        check(f"Fortran plugin scale, {n} ranks", o["y"], 2.0 * o["x"] + 1.0)
else:
    failures.append("no gfortran: the Fortran plugin was not checked")
    print(failures[-1])

sys.exit(1 if failures else 0)
