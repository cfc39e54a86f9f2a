#!/bin/bash
# Copied from the team's checked scripts (shared/netns) and owned by this project.
# Create N network namespaces (n1..nN) joined to a bridge in the root namespace.
#   n<i>  : eth0 = 10.77.0.<i>/24, lo up
#   bridge: br77 = 10.77.0.254/24 (root namespace; mpirun's OOB listens here)
# Usage: N=3 setup.sh   (run teardown.sh first). Writes $NETNS_RUN/hosts.ip for nsmpirun.
set -euo pipefail
N=${N:-3}; PFX=${PFX:-n}; BR=${BR:-br77}; NET=${NET:-10.77.0}; MTU=${MTU:-1500}

ip link add "$BR" type bridge stp_state 0 forward_delay 0
ip addr add "$NET.254/24" dev "$BR"
ip link set "$BR" mtu "$MTU" up
for i in $(seq 1 "$N"); do
  ns="$PFX$i"
  ip netns add "$ns"
  # root-side end "veth-n<i>" goes on the bridge; the other end is created
  # directly inside the namespace and named eth0 there
  ip link add "veth-$ns" mtu "$MTU" type veth peer name eth0 mtu "$MTU" netns "$ns"
  ip link set "veth-$ns" master "$BR" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$NET.$i/24" dev eth0
  ip -n "$ns" link set eth0 up
done
run=${NETNS_RUN:-${TMPDIR:-/tmp}/dirk-netns}; mkdir -p "$run"
: > "$run/hosts.ip"
for i in $(seq 1 "$N"); do echo "$NET.$i slots=${SLOTS:-1}" >> "$run/hosts.ip"; done
