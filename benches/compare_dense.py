#!/usr/bin/env python3
"""dirk's tiled Cholesky and tiled GEMM against one OpenBLAS call (`dpotrf_` and `dgemm_` of
Debian's libopenblas0, called through ctypes on column-major copies), side by side in one
run, with the same number of threads. (numpy.linalg.cholesky was slower than a direct dpotrf
here, so it would flatter dirk; it is not used.)

dirk's time is the makespan of the factorisation (or product) tasks taken from its Chrome
trace: first start to last end of the tasks whose ids begin with `chol.potrf|trsm|syrk|gemm`
(or `gemm.C.`), so generating A and gathering the result are not counted; the reference
times only the OpenBLAS call on a matrix of the same definition (A = (R + Rᵀ)/2 + n·I).

Usage: benches/compare_dense.py [--n 8192] [--tile 512] [--gemm 4096] [--gemm-tile 1024]
       [--threads 2] [--ranks 1] [--repeat 2]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=8192)
parser.add_argument("--tile", type=int, default=512)
parser.add_argument("--gemm", type=int, default=4096)
parser.add_argument("--gemm-tile", type=int, default=1024)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--ranks", type=int, default=1)
parser.add_argument("--repeat", type=int, default=2, help="runs of each side; the best counts")
args = parser.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
import ctypes  # noqa: E402
import numpy as np  # noqa: E402  (after OPENBLAS_NUM_THREADS)

blas = ctypes.CDLL("libopenblas.so.0")
blas.openblas_set_num_threads(args.threads)
blas.openblas_get_config.restype = ctypes.c_char_p
INT = ctypes.c_int


def ptr(x):
    return x.ctypes.data_as(ctypes.c_void_p)


def dpotrf(a_fortran):
    n, info = INT(a_fortran.shape[0]), INT(0)
    blas.dpotrf_(ctypes.c_char_p(b"L"), ctypes.byref(n), ptr(a_fortran), ctypes.byref(n),
                 ctypes.byref(info))
    assert info.value == 0, info.value


def dgemm(x, y, z):
    m, k = x.shape
    n = y.shape[1]
    one, zero = ctypes.c_double(1.0), ctypes.c_double(0.0)
    M, N, K = INT(m), INT(n), INT(k)
    blas.dgemm_(ctypes.c_char_p(b"N"), ctypes.c_char_p(b"N"), ctypes.byref(M), ctypes.byref(N),
                ctypes.byref(K), ctypes.byref(one), ptr(x), ctypes.byref(M), ptr(y),
                ctypes.byref(K), ctypes.byref(zero), ptr(z), ctypes.byref(M))

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
dirk = os.path.join(target, "release", "dirk")
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def dirk_makespan(workload, prefixes):
    runs = [dirk_once(workload, prefixes) for _ in range(args.repeat)]
    return min(t for t, _ in runs), max(r for _, r in runs)


def dirk_once(workload, prefixes):
    with tempfile.TemporaryDirectory() as tmp:
        job = os.path.join(tmp, "job.json")
        trace = os.path.join(tmp, "trace.json")
        with open(job, "w") as f:
            json.dump({"dirk": 1, "workload": workload}, f)
        cmd = ["timeout", "600", "mpirun", "-n", str(args.ranks), "--oversubscribe",
               "--bind-to", "none", "/usr/bin/time", "-f", "peak_rss_kb %M", dirk, "run", job,
               "--threads", str(args.threads), "--trace", trace]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"dirk failed: {out.stderr}")
        rss = max(int(k) for k in re.findall(r"peak_rss_kb (\d+)", out.stderr))
        with open(trace) as f:
            events = json.load(f)
        events = events["traceEvents"] if isinstance(events, dict) else events
        spans = [(e["ts"], e["ts"] + e["dur"]) for e in events
                 if e.get("ph") == "X" and e["args"]["id"].startswith(prefixes)]
        return (max(b for _, b in spans) - min(a for a, _ in spans)) / 1e6, rss


print(f"machine: {os.cpu_count()} cores; {blas.openblas_get_config().decode()}; "
      f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; load average {os.getloadavg()[0]:.2f}")
print(f"threads: {args.threads} (OpenBLAS) vs {args.ranks} rank(s) x {args.threads} threads (dirk)")

# Cholesky.
n, t = args.n, args.tile
rng = np.random.default_rng(1)
r = rng.random((n, n))
a = 0.5 * (r + r.T) + n * np.eye(n)
del r
dpotrf(np.array(a[:256, :256], order="F"))  # warm up the BLAS threads


def best_of(k, prepare, f):
    best = float("inf")
    for _ in range(k):
        x = prepare()
        t0 = time.perf_counter()
        f(x)
        best = min(best, time.perf_counter() - t0)
    return best


ref = best_of(args.repeat, lambda: np.array(a, order="F"), dpotrf)
del a
flops = n ** 3 / 3
got, rss = dirk_makespan({"kind": "cholesky", "n": n, "tile": t, "seed": 1},
                         ("chol.potrf", "chol.trsm", "chol.syrk", "chol.gemm"))
print(f"cholesky n={n}: dpotrf {ref:.3f} s ({flops / ref / 1e9:.1f} GFLOP/s); "
      f"dirk tile {t}: {got:.3f} s ({flops / got / 1e9:.1f} GFLOP/s), peak rss {rss / 1024:.0f} MiB; "
      f"dirk/LAPACK = {ref / got * 100:.0f} % (target >= 80 %)")

# GEMM.
m = args.gemm
x = np.asfortranarray(rng.random((m, m)))
y = np.asfortranarray(rng.random((m, m)))
z = np.zeros((m, m), order="F")
ref = best_of(args.repeat, lambda: None, lambda _: dgemm(x, y, z))
del x, y, z
flops = 2 * m ** 3
got, rss = dirk_makespan({"kind": "gemm", "m": m, "k": m, "n": m, "tile": args.gemm_tile,
                          "seed": 1}, ("gemm.C.",))
print(f"gemm {m}^3: dgemm {ref:.3f} s ({flops / ref / 1e9:.1f} GFLOP/s); dirk tile "
      f"{args.gemm_tile}: {got:.3f} s ({flops / got / 1e9:.1f} GFLOP/s), peak rss {rss / 1024:.0f} MiB; "
      f"dirk/BLAS = {ref / got * 100:.0f} % (target >= 85 %)")
