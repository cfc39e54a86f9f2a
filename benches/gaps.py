#!/usr/bin/env python3
"""Where each rank's time goes: task time, gaps between tasks, and slow outliers, from --trace.

  mpirun -n 2 --map-by slot:PE=1 --bind-to core dirk run life-weak-2r.json --threads 1 \\
      --trace trace-2r.json
  python3 benches/gaps.py trace-1r.json trace-2r.json

Per rank and worker thread of each trace (tasks from the first to the last, so start-up and the
output write are not in it):

  span        first task start to last task end, ms
  tasks       summed task time, ms, by op (e.g. life_step, slice)
  gaps        summed idle time between consecutive tasks, ms, split < 2 µs (scheduling
              bookkeeping), 2-20 µs (typically receiving a value), >= 20 µs (waiting for a peer)
  slow        tasks taking at least 1.25x the median of their op and output size, and the
              summed excess over that median, ms ("hiccups": preemptions, cache or TLB
              disturbances)
  medians     per op and output size (where an op has several: Life's deep-halo frames),
              the median task time, µs

Comparing a 1-rank and a 2-rank trace of a weak-scaling pair shows what communication and
coupling cost (benches/HISTORY.md, "Scaling", fourth session). Python 3 standard library only.
"""

import collections
import json
import statistics
import sys


def split(path):
    events = json.load(open(path))["traceEvents"]
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and e.get("cat") == "task":
            kind = (e["name"], e.get("args", {}).get("bytes_out"))
            by_thread[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"], kind))
    for (rank, tid), tasks in sorted(by_thread.items()):
        tasks.sort()
        per_op = collections.defaultdict(list)
        for start, end, op in tasks:
            per_op[op].append(end - start)
        gaps = [b[0] - a[1] for a, b in zip(tasks, tasks[1:])]
        bins = [sum(g for g in gaps if lo <= g < hi) / 1000
                for lo, hi in ((0, 2), (2, 20), (20, float("inf")))]
        totals, slow, excess = collections.Counter(), collections.Counter(), collections.Counter()
        medians = {}
        for (op, size), durations in per_op.items():  # one op and output size: like work
            median = statistics.median(durations)
            medians[op, size] = median
            over = [d - median for d in durations if d >= 1.25 * median]
            totals[op] += sum(durations) / 1000
            slow[op] += len(over)
            excess[op] += sum(over) / 1000
        ops = ", ".join(f"{op} {totals[op]:.1f}" for op in sorted(totals))
        slows = ", ".join(f"{op} {slow[op]} ({excess[op]:.1f} ms)" for op in sorted(totals))
        print(f"{path} rank {rank} thread {tid}: span {(tasks[-1][1] - tasks[0][0]) / 1000:.1f} "
              f"ms | tasks {ops} ms | gaps <2 µs {bins[0]:.1f}, 2-20 µs {bins[1]:.1f}, "
              f">=20 µs {bins[2]:.1f} ms | slow {slows}")
        sized = collections.Counter(op for op, _ in medians)
        several = [(op, size) for op, size in sorted(medians, key=str) if sized[op] > 1]
        if several:
            print("    medians " + ", ".join(f"{op} {size} B {medians[op, size]:.1f} µs"
                                           for op, size in several))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        split(p)
