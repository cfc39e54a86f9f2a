#!/usr/bin/env python3
"""Kill-and-resume trials (issue 21's long version of the CI test `resume_trials`).

Each trial starts a checkpointing Life run (by default 4096^2 in 6 x 6 tiles, periodic, 1500
steps: the tiling and traffic of ../shared/repro/resume-hang, with a third of its tasks;
checkpoints every --interval seconds), SIGKILLs one rank at a
random moment when 30-90 % of the tasks are done (rank 0's progress lines), and resumes from the newest
checkpoint. Ranks cycle through --ranks, stealing alternates on/off. A resume must finish
(exit 0, within --limit seconds; a stall ends it with exit 1 after --peer-timeout), and its
grid must equal the uninterrupted run's, bit for bit (h5py).

Printed per trial and in total: kills, resumes finished, the checkpoint resumed from, the
tasks the resume ran against those its checkpoint lacked (must be equal: no finished work is
redone), and the time redone: from the newest committed checkpoint to the kill (work lost
with the killed run, done again by the resume).

Usage: benches/resume_trials.py [--trials N] [--ranks 2,3,4] [--interval S] [--steps N]
                                [--grid N] [--dirk PATH]
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--trials", type=int, default=20)
ap.add_argument("--ranks", default="2,3,4")
ap.add_argument("--interval", type=float, default=1.0)
ap.add_argument("--grid", type=int, default=4096)
ap.add_argument("--steps", type=int, default=1500)
ap.add_argument("--limit", type=int, default=600, help="seconds a resume may take (default 600)")
ap.add_argument("--peer-timeout", type=float, default=30)
ap.add_argument("--seed", type=int, default=21)
ap.add_argument("--dirk", default=os.path.join(root, "target", "release", "dirk"))
a = ap.parse_args()

env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
tmp = tempfile.mkdtemp(prefix="dirk-resumetrials-")
job = os.path.join(tmp, "life.json")
json.dump({"dirk": 1, "name": "trials", "workload": {
    "kind": "life", "grid": [a.grid, a.grid], "tiles": [6, 6], "steps": a.steps,
    "boundary": "periodic", "seed": 42}}, open(job, "w"))
rng = random.Random(a.seed)


def mpirun(n, args):
    return ["timeout", str(a.limit), "mpirun", "-n", str(n), "--oversubscribe", "--bind-to", "none",
            a.dirk] + args


def grid(path):
    with h5py.File(path, "r") as f:
        return np.array(f["grid"])


def rank_pids(needle):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{d}/exe")
            cmd = open(f"/proc/{d}/cmdline", "rb").read().decode(errors="replace")
        except OSError:
            continue
        if os.path.realpath(exe) == os.path.realpath(a.dirk) and needle in cmd:
            pids.append(int(d))
    return sorted(pids)


# The uninterrupted reference.
ref = os.path.join(tmp, "ref.h5")
t = time.time()
r = subprocess.run(mpirun(2, ["run", job, "--output", ref]), env=env, capture_output=True, text=True)
if r.returncode != 0:
    sys.exit(f"reference run failed:\n{r.stderr}")
wall = float(re.search(r"tasks in ([0-9.]+) s", r.stderr).group(1))
want = grid(ref)
print(f"job: Life {a.grid}^2, 6x6 tiles, {a.steps} steps; uninterrupted 2-rank run {wall:.1f} s "
      f"(whole process {time.time() - t:.1f} s); checkpoints every {a.interval} s")
print(f"{'trial':>5} {'ranks':>5} {'steal':>5} {'kill at':>8} {'resumed from':>12} {'tasks run':>10} "
      f"{'lacked':>10} {'redone s':>8} {'resume s':>8}  result")

ranks = [int(x) for x in a.ranks.split(",")]
kills = finished = identical = exact = resumed = 0
redone_total = 0.0
for trial in range(a.trials):
    n = ranks[trial % len(ranks)]
    steal = "on" if trial % 2 == 0 else "off"
    ck = os.path.join(tmp, f"ck{trial}")
    out = os.path.join(tmp, f"out{trial}.h5")
    summary = os.path.join(tmp, f"s{trial}.json")
    args = ["run", job, "--output", out, "--summary", summary, "--checkpoint-dir", ck,
            "--checkpoint-interval", str(a.interval), "--steal", steal,
            "--peer-timeout", str(a.peer_timeout)]
    log = open(os.path.join(tmp, f"run{trial}.log"), "w+")
    p = subprocess.Popen(mpirun(n, args), env=env, stdout=log, stderr=subprocess.STDOUT)
    while len(rank_pids(ck)) < n and p.poll() is None:
        time.sleep(0.01)
    # The kill falls at a random point of the run proper, 30-90 % of its tasks done (rank 0's
    # progress lines), whatever the machine's speed.
    target = 0.3 + 0.6 * rng.random()
    run_start = None
    commits = []
    while p.poll() is None:
        time.sleep(0.01)
        log.seek(0)
        text = log.read()
        if run_start is None and "tasks on" in text:
            run_start = time.time()
        for m in re.finditer(r"checkpoint (\d+): ", text):
            if m.group(1) not in [c[0] for c in commits]:
                commits.append((m.group(1), time.time()))
        done = re.findall(r"progress: (\d+)/(\d+) tasks", text)
        if done and int(done[-1][0]) >= target * int(done[-1][1]):
            break
    delay = time.time() - (run_start or time.time())
    if p.poll() is not None:
        print(f"{trial:>5} {n:>5} {steal:>5}  finished before the kill")
        continue
    pids = rank_pids(ck)
    os.kill(rng.choice(pids), 9)
    killed_at = time.time()
    p.wait()
    kills += 1
    redone = killed_at - (commits[-1][1] if commits else run_start)
    t = time.time()
    r = subprocess.run(mpirun(n, args + ["--resume"]), env=env, capture_output=True, text=True)
    took = time.time() - t
    m = re.search(r"resuming from checkpoint (\d+) \((\d+) of (\d+) tasks finished\)", r.stderr)
    if r.returncode != 0:
        print(f"{trial:>5} {n:>5} {steal:>5} {delay:>7.1f}s {'':>12} {'':>10} {'':>10} {'':>8} "
              f"{took:>8.1f}  FAILED (exit {r.returncode}): {r.stderr.strip().splitlines()[-1:]}")
        continue
    finished += 1
    same = np.array_equal(grid(out), want)
    identical += same
    run_tasks = sum(x["tasks"] for x in json.load(open(summary))["per_rank"])
    lacked = int(m.group(3)) - int(m.group(2)) if m else None
    exact += lacked == run_tasks
    resumed += m is not None
    redone_total += redone
    print(f"{trial:>5} {n:>5} {steal:>5} {delay:>7.1f}s {m.group(1) if m else 'none':>12} "
          f"{run_tasks:>10} {lacked if m else '-':>10} {redone:>8.2f} {took:>8.1f}  "
          f"{'identical' if same else 'DIFFERS'}")

print(f"\n{a.trials} trials: {kills} kills, {finished} resumes finished, {identical} identical to the "
      f"uninterrupted grid, {exact} of {resumed} resumed from a checkpoint ran exactly the tasks it lacked; "
      f"time redone {redone_total:.1f} s in all ({redone_total / max(kills, 1):.2f} s a kill)")
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(0 if finished == kills and identical == finished else 1)
