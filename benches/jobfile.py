#!/usr/bin/env python3
"""Job-file cost: what a task costs all-in when a user runs a JSON job under mpirun.

Generates, in a temporary folder, a job of 1,000 chains of 100 one-element `add`s (100,001
tasks: one `fill` that every chain starts from, then the chains; the 1,000 chain ends are
the outputs), the same shape with chains of 1,000 (1,000,001 tasks), and a one-task job. Runs
each as a whole process, `mpirun -n N dirk run JOB --output OUT.h5 --summary S.json` with
the default binding, at 1 and 2 ranks, best of --repeats (variants alternate within a round,
so drift touches them alike), and prints:

  per task   (wall of the 100k job - wall of the one-task job) / 100,000, µs
  1M wall    the 1M job's whole-process wall at 2 ranks, s
  phases     rank 0's seconds per phase from the summary's `phases` (read, parse, validate,
             prepare, settings, partition, local, encode, scatter, decode, setup, run,
             gather, write); `rest` is the wall less the one-task job's and the phases:
             process start and exit (freeing the job), MPI start-up, what no phase covers

Targets (issue 25): <= 1 µs a task at 1 and 2 ranks (goal 0.5); the 1M job <= 2 s at 2 ranks.

  python3 benches/jobfile.py                                   # target/release/dirk
  python3 benches/jobfile.py --variant main=/work/main/target/release/dirk \\
                             --variant new=target/release/dirk --repeats 3

A binary without `phases` in its summary (older builds) prints only the walls. Python 3
standard library only.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = ["read", "parse", "validate", "prepare", "settings", "partition", "local", "encode",
          "scatter", "decode", "setup", "run", "gather", "write"]


def variant(text):
    label, sep, binary = text.partition("=")
    if not sep:
        label, binary = Path(text).parent.parent.parent.name or text, text
    if not Path(binary).is_file():
        raise argparse.ArgumentTypeError(f"{binary}: no such file")
    return label, str(Path(binary).resolve())


def write_job(path, chains, length):
    """`x` = fill([1], 1.0); chain c: c<c>.0 = x + 1, c<c>.s = c<c>.(s-1) + 1."""
    with open(path, "w") as f:
        f.write('{"dirk": 1, "name": "chains", "tasks": [\n')
        f.write('{"id": "x", "op": "fill", "args": [[1], 1.0]}')
        for c in range(chains):
            prev = "x"
            for s in range(length):
                tid = f"c{c}.{s}"
                f.write(f',\n{{"id": "{tid}", "op": "add", "args": ["{prev}", 1.0]}}')
                prev = tid
        f.write("\n]}\n")


def run(binary, ranks, job, out, env):
    summary = out / "s.json"
    for p in (out / "o.h5", summary):
        if p.exists():
            p.unlink()
    cmd = ["mpirun", "-n", str(ranks), binary, "run", str(job),
           "--output", str(out / "o.h5"), "--summary", str(summary)]
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr[-3000:]}")
    s = json.loads(summary.read_text())
    return wall, {p["name"]: p["seconds"] for p in s.get("phases", [])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--variant", type=variant, action="append",
                    metavar="LABEL=BINARY", help="a build (repeat); default target/release/dirk")
    ap.add_argument("--repeats", type=int, default=3, help="rounds, best of (default 3)")
    ap.add_argument("--no-1m", action="store_true", help="skip the 1,000,000-task job")
    a = ap.parse_args()
    variants = a.variant or [variant("dirk=" + str(Path(__file__).resolve().parent.parent
                                                    / "target/release/dirk"))]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    with tempfile.TemporaryDirectory(prefix="dirk-jobfile-") as tmp:
        tmp = Path(tmp)
        jobs = {"one": tmp / "one.json", "100k": tmp / "100k.json", "1M": tmp / "1m.json"}
        write_job(jobs["one"], 0, 0)
        write_job(jobs["100k"], 1000, 100)
        configs = [(j, n) for j in ("one", "100k") for n in (1, 2)]
        if not a.no_1m:
            write_job(jobs["1M"], 1000, 1000)
            configs.append(("1M", 2))
        print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
              f"{os.getloadavg()[2]:.2f}", flush=True)
        best = {}
        for rnd in range(a.repeats):
            for job, n in configs:
                for label, binary in variants:
                    wall, phases = run(binary, n, jobs[job], tmp, env)
                    key = (label, job, n)
                    if key not in best or wall < best[key][0]:
                        best[key] = (wall, phases)
            print(f"round {rnd + 1} of {a.repeats} done, load {os.getloadavg()[0]:.2f}",
                  flush=True)
        print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
              f"{os.getloadavg()[2]:.2f}")
        print()
        print(f"{'variant':<10} {'ranks':>5} {'one-task s':>10} {'100k s':>8} "
              f"{'µs/task':>8} {'1M s':>7}")
        for label, _ in variants:
            for n in (1, 2):
                one, big = best[(label, "one", n)][0], best[(label, "100k", n)][0]
                m = best.get((label, "1M", n))
                print(f"{label:<10} {n:>5} {one:>10.3f} {big:>8.3f} "
                      f"{(big - one) / 100_000 * 1e6:>8.2f} "
                      f"{m[0] if m else float('nan'):>7.2f}")
        print()
        rows = [(label, job, n) for label, _ in variants for job, n in configs if job != "one"]
        print("phases on rank 0, seconds (best run of each):")
        print(f"{'variant/job/ranks':<20}" + "".join(f"{p[:8]:>9}" for p in PHASES)
              + f"{'rest':>9}")
        for label, job, n in rows:
            wall, phases = best[(label, job, n)]
            if not phases:
                print(f"{label}/{job}/{n}: no phases in this build's summary")
                continue
            one = best[(label, "one", n)][0]
            rest = wall - one - sum(phases.values())
            print(f"{f'{label}/{job}/{n}':<20}"
                  + "".join(f"{phases.get(p, 0.0):>9.3f}" for p in PHASES) + f"{rest:>9.3f}")


if __name__ == "__main__":
    main()
