#!/bin/bash
# The transfer benchmark (benches/transfer.rs: a 64 MiB array from rank 0 to rank 1, dirk
# against plain MPI send/receive in the same run) with its two ranks on two network
# namespaces, so both go over TCP (tests/netns/nsmpirun: --mca btl tcp,self). Run as root from
# the repository root:   sudo benches/transfer_tcp.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "transfer_tcp.sh: needs root (network namespaces)" >&2; exit 2; }
work=$(mktemp -d /tmp/dirk-transfer-tcp.XXXXXX)
export PFX=dkt BR=brdkt NETNS_RUN=$work
trap '"$root/tests/netns/teardown.sh"; rm -rf "$work"' EXIT
"$root/tests/netns/teardown.sh"
N=2 "$root/tests/netns/setup.sh"
cd "$root"
DIRK_BENCH_MPIRUN="$root/tests/netns/nsmpirun" cargo bench --bench transfer
