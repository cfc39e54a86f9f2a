#!/usr/bin/env bash
# dirk's `life` workload against the hand-written MPI + rayon baseline (benches/life_baseline.rs),
# side by side in one run: same grid, same seed, same ranks and threads per rank.
#
# dirk's time per step is the difference of two runs (S1 and S2 steps) divided by S2 − S1, so
# start-up, initial grid generation and the gather of the result cancel out; the baseline
# times its step loop directly. Usage: benches/compare_life.sh [N] [TILES_R] [TILES_C] [RANKS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-8192}; TR=${2:-4}; TC=${3:-4}; RANKS=${4:-2}; THREADS=${5:-1}
S1=${S1:-10}; S2=${S2:-40}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --quiet
cargo build --release --quiet --bench life_baseline
BASE=$(ls -t "$CARGO_TARGET_DIR"/release/deps/life_baseline-* | grep -v '\.d$' | head -1)
DIRK="$CARGO_TARGET_DIR/release/dirk"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
MPI=(timeout 600 mpirun -n "$RANKS" --oversubscribe --bind-to none)

dirk_wall() { # steps -> wall seconds from the summary
  cat > "$TMP/job.json" <<JSON
{"dirk": 1, "name": "life", "workload": {"kind": "life", "grid": [$N, $N], "tiles": [$TR, $TC],
 "steps": $1, "boundary": "periodic", "seed": 1}}
JSON
  "${MPI[@]}" /usr/bin/time -f "peak_rss_kb %M" "$DIRK" run "$TMP/job.json" --threads "$THREADS" \
    --summary "$TMP/s.json" 2> "$TMP/err.txt" >/dev/null
  grep peak_rss_kb "$TMP/err.txt" | sort -k2 -n | tail -1 >&2
  python3 -c "import json; print(json.load(open('$TMP/s.json'))['wall_seconds'])"
}

echo "machine: $(nproc) cores, $(uname -r); $(date -u +%F)"
echo "config: ${N}x${N}, tiles ${TR}x${TC}, $RANKS ranks, $THREADS threads/rank, steps $S1 vs $S2"
RAYON_NUM_THREADS=$THREADS "${MPI[@]}" /usr/bin/time -f "baseline peak_rss_kb %M" "$BASE" "$N" "$S2" 1 2>&1 \
  | tee "$TMP/base.txt" | grep -v "^$" | sort | uniq
W1=$(dirk_wall "$S1")
W2=$(dirk_wall "$S2")
BASE_MS=$(grep -o '[0-9.]* ms/step' "$TMP/base.txt" | cut -d' ' -f1)
python3 - "$W1" "$W2" "$BASE_MS" "$S1" "$S2" <<'PY'
import sys
w1, w2, base, s1, s2 = map(float, sys.argv[1:])
dirk = (w2 - w1) / (s2 - s1) * 1e3
print(f"dirk: {dirk:.3f} ms/step (wall {w1:.3f} s at {s1:.0f} steps, {w2:.3f} s at {s2:.0f})")
print(f"baseline: {base:.3f} ms/step")
print(f"ratio dirk/baseline: {dirk / base:.3f} (target <= 1.1)")
PY
