#!/usr/bin/env python3
"""A/B weak scaling: builds or flags of dirk side by side, in alternating rounds.

On a shared 2-core VM, single sweeps drift by 5-10 % within minutes, so a 1-2 % change cannot
be judged from two `benches/scaling.py` runs taken apart. This script runs, round after round,
every variant's 1-rank and 2-rank weak Life job one after the other, and reports per variant:

  pair ratio    median over rounds of T(1 rank) / T(2 ranks) from the same round (the weak
                efficiency with the drift between rounds cancelled as far as it can be)
  vs first      the same with the first variant's T(1 rank) in every ratio: a variant that
                wins its pair ratio by a slower 1-rank run gains nothing here
  1r, 2r        best and median `run_seconds`

  python3 benches/ab.py --variant base=/tmp/dirk-old --variant new=target/release/dirk
  python3 benches/ab.py --variant on=target/release/dirk \\
                        --variant "off=target/release/dirk:--steal off" --rounds 8

A variant is LABEL=BINARY or LABEL=BINARY:DIRK-ARGS. The jobs are those of
`benches/scaling.py`'s weak sweep (--grid H,W per rank, --tiles-per-rank row strips, --steps;
`--tiles-per-rank 4,8` runs each variant with both, labelled LABEL/t4 and LABEL/t8; likewise
`--halo 1,4`, the Life workload's deep halos, LABEL/h1 and LABEL/h4),
run with `mpirun --map-by slot:PE=1 --bind-to core` and one thread per rank. About 5 s per
variant and round at the defaults. Python 3 standard library only.
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def variant(text):
    label, sep, rest = text.partition("=")
    if not sep or not label or not rest:
        raise argparse.ArgumentTypeError(f"want LABEL=BINARY[:DIRK-ARGS], got {text!r}")
    binary, _, args = rest.partition(":")
    if not Path(binary).is_file():
        raise argparse.ArgumentTypeError(f"{binary}: no such file")
    return label, binary, shlex.split(args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--variant", type=variant, action="append", required=True,
                    metavar="LABEL=BINARY[:ARGS]", help="a build or flag set (repeat; 1 or more)")
    ap.add_argument("--rounds", type=int, default=8, help="alternating rounds (default 8)")
    ap.add_argument("--grid", default="2048,2048", metavar="H,W",
                    help="cells per rank (default 2048,2048)")
    ap.add_argument("--tiles-per-rank", default="4", metavar="N[,N...]",
                    help="row strips per rank (default 4); a list runs every variant with "
                         "each, as variants of their own (LABEL/N)")
    ap.add_argument("--halo", default="1", metavar="K[,K...]",
                    help="deep halos: steps per exchange of halo strips (default 1); a list "
                         "runs every variant with each (LABEL/hK)")
    ap.add_argument("--steps", type=int, default=2000, help="time steps (default 2000)")
    a = ap.parse_args()
    h, w = (int(x) for x in a.grid.replace("x", ",").split(","))
    tiles = [int(x) for x in a.tiles_per_rank.split(",") if x.strip()]
    halos = [int(x) for x in a.halo.split(",") if x.strip()]
    shapes = [(t, k) for t in tiles for k in halos]

    def name(label, t, k):
        return label + (f"/t{t}" if len(tiles) > 1 else "") + (f"/h{k}" if len(halos) > 1 else "")

    named = [(name(label, t, k), binary, args, (t, k))
             for label, binary, args in a.variant for t, k in shapes]

    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    times = {}
    with tempfile.TemporaryDirectory(prefix="dirk-ab-") as tmp:
        tmp = Path(tmp)
        jobs = {}
        for t, k in shapes:
            for r in (1, 2):
                jobs[r, (t, k)] = tmp / f"life-weak-{t}t-{k}h-{r}r.json"
                wl = {"kind": "life", "grid": [r * h, w], "tiles": [r * t, 1],
                      "steps": a.steps, "seed": 1, "boundary": "periodic"}
                if k != 1:  # (builds before deep halos know no "halo")
                    wl["halo"] = k
                jobs[r, (t, k)].write_text(json.dumps({
                    "dirk": 1, "name": f"life-weak-{r}r", "workload": wl}))
        for rnd in range(a.rounds):
            for label, binary, args, shape in named:
                for r in (1, 2):
                    out, summary = tmp / "out.h5", tmp / "summary.json"
                    out.unlink(missing_ok=True)
                    cmd = ["mpirun", "-n", str(r), "--map-by", "slot:PE=1", "--bind-to",
                           "core", binary, "run", str(jobs[r, shape]), "--threads", "1",
                           "--output", str(out), "--summary", str(summary), *args]
                    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
                    if p.returncode:
                        sys.exit(f"ab.py: {shlex.join(cmd)} failed ({p.returncode}):\n"
                                 f"{p.stderr[-2000:]}")
                    secs = json.loads(summary.read_text())["run_seconds"]
                    times.setdefault((label, r), []).append(secs)
            print(f"round {rnd + 1}/{a.rounds} done", file=sys.stderr)

    print(f"# weak Life {h}x{w} per rank, {a.tiles_per_rank} strips per rank, halo {a.halo}, "
          f"{a.steps} steps; {a.rounds} alternating rounds; load {os.getloadavg()[0]:.1f}")
    first = times[(named[0][0], 1)]
    for label, _, _, _ in named:
        one, two = times[(label, 1)], times[(label, 2)]
        pairs = [x / y for x, y in zip(one, two)]
        against = [x / y for x, y in zip(first, two)]
        print(f"{label:12} pair ratio median {statistics.median(pairs) * 100:5.1f} %  "
              f"vs first {statistics.median(against) * 100:5.1f} %  "
              f"| 1r best {min(one):.3f} median {statistics.median(one):.3f} s "
              f"| 2r best {min(two):.3f} median {statistics.median(two):.3f} s")


if __name__ == "__main__":
    main()
