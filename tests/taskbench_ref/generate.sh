#!/bin/sh
# Prints the expected table of tests/it/taskbench_fidelity.rs: for each line of configs.txt
# (Task Bench flags), what Task Bench's own core prints for it, through driver.cc.
#
#   tests/taskbench_ref/generate.sh /path/to/task-bench-checkout
#
# The checkout should be StanfordLegion/task-bench at the commit the test names
# (bf4ad1982d4b748bf3fd54e8239e798114e6ade8). Its core/ is copied to a temporary folder and
# built there with its own Makefile (gcc, -O3, asserts on); nothing of it enters this repo.
# Each row: (flags, tasks, deps, local deps, nonlocal deps, FLOPs, bytes, digest).
set -eu
tb=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$tb/core" "$work/core"
make -s -C "$work/core" libcore.a >/dev/null
g++ -std=c++11 -O3 -I"$work/core" "$here/driver.cc" "$work/core/libcore.a" -o "$work/driver"
value() { sed -n "s/^ *$1 \([0-9-]*\).*/\1/p" "$work/out"; }
while IFS= read -r flags; do
    [ -z "$flags" ] && continue
    # shellcheck disable=SC2086 # the flags are words
    "$work/driver" $flags >"$work/out"
    local=$(value 'Local Dependencies'); nonlocal=$(value 'Nonlocal Dependencies')
    printf '    ("%s", %s, %s, %s, %s, %s, %s, %s),\n' "$flags" \
        "$(value 'Total Tasks')" "$(value 'Total Dependencies')" "${local:-0}" \
        "${nonlocal:-0}" "$(value 'Total FLOPs')" "$(value 'Total Bytes')" \
        "$(sed -n 's/^Digest //p' "$work/out")"
done <"$here/configs.txt"
