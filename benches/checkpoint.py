#!/usr/bin/env python3
"""Checkpoint cost on Life 8192x8192 at 2 ranks (issue 4's benchmark).

Runs the same Life job without checkpoints and with one checkpoint every INTERVAL seconds,
alternating, REPEATS times each, and reports the best run time of each and their ratio
(target: at most 5 % slower). Then resumes from the last checkpoint the checkpointing run left
and compares the time to load it (summary `resume_load_seconds`) with the time to write one
(summary `checkpoint_seconds` / `checkpoints`; target: load <= write).

Usage: benches/checkpoint.py [--steps N (default 4000)] [--interval S] [--repeats R] [--dirk PATH]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--steps", type=int, default=4000, help="Life steps (default 4000: about 20 s at 2 ranks here, 1-2 checkpoints at the default interval)")
ap.add_argument("--interval", type=float, default=10.0, help="seconds between checkpoints (default 10)")
ap.add_argument("--repeats", type=int, default=2, help="runs of each kind (default 2)")
ap.add_argument("--ranks", type=int, default=2)
ap.add_argument("--dirk", default=os.path.join(root, "target", "release", "dirk"))
a = ap.parse_args()

env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
tmp = tempfile.mkdtemp(prefix="dirk-ckbench-")
job = os.path.join(tmp, "life.json")
json.dump({"dirk": 1, "name": "life-8192-ckpt",
           "workload": {"kind": "life", "grid": [8192, 8192], "tiles": [4, 4], "steps": a.steps,
                        "boundary": "periodic", "seed": 1}}, open(job, "w"))


def run(extra, tag):
    summary = os.path.join(tmp, f"{tag}.json")
    cmd = ["mpirun", "-n", str(a.ranks), "--oversubscribe", "--bind-to", "none", a.dirk, "run", job,
           "--threads", "1", "-q", "--summary", summary] + extra
    subprocess.run(cmd, env=env, check=True)
    return json.load(open(summary))


with open("/proc/loadavg") as f:
    load = f.read().split()[0]
print(f"# checkpoint cost: Life 8192^2, {a.steps} steps, {a.ranks} ranks x 1 thread, "
      f"interval {a.interval} s, best of {a.repeats}; load {load}; {time.strftime('%Y-%m-%d')}")
plain, ckpt, last = [], [], None
for i in range(a.repeats):
    plain.append(run([], f"plain{i}")["run_seconds"])
    ck = os.path.join(tmp, f"ck{i}")
    last = run(["--checkpoint-dir", ck, "--checkpoint-interval", str(a.interval)], f"ck{i}")
    ckpt.append(last["run_seconds"])
    last_dir = ck
bp, bc = min(plain), min(ckpt)
print(f"without checkpoints: {bp:.2f} s   (runs: {', '.join(f'{x:.2f}' for x in plain)})")
print(f"with checkpoints:    {bc:.2f} s   (runs: {', '.join(f'{x:.2f}' for x in ckpt)}; "
      f"{last['checkpoints']} checkpoints, {last['checkpoint_seconds']:.2f} s in them)")
print(f"slowdown: {100 * (bc / bp - 1):+.1f} %  (target <= +5 %)")
write = last["checkpoint_seconds"] / max(1, last["checkpoints"])
resumed = run(["--checkpoint-dir", last_dir, "--resume"], "resumed")
print(f"write one checkpoint: {write:.3f} s; load it on resume: {resumed['resume_load_seconds']:.3f} s "
      f"(target: load <= write)")
shutil.rmtree(tmp, ignore_errors=True)
