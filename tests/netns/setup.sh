#!/bin/bash
# Copied from the team's checked scripts (shared/netns) and owned by this project; changed
# here: a head namespace for mpirun, short TCP retransmission limits, and names that several
# concurrent sets can keep apart (PFX, BR, NET).
# Create N network namespaces (n1..nN) and a head namespace n0, joined by a bridge:
#   n<i>  : eth0 = $NET.<i>/24, lo up          (the compute "hosts")
#   n0    : eth0 = $NET.254/24                  (the head node: nsmpirun runs mpirun here)
#   bridge: br77 in the root namespace, no address
# TCP gives up on a connection after a few unanswered retransmissions instead of Linux's 15
# (about 15 minutes; the keepalives nsmpirun sets do not apply while data is unacknowledged):
#   n0 (mpirun)    HEAD_TCP_RETRIES2, default 2: about 1.5 s. mpirun otherwise waits that long
#                  for the daemon of a host that was cut off after mpirun sent it something
#                  (the order to kill its ranks, once a rank aborted the job).
#   n1..nN         TCP_RETRIES2, default 4: about 6 s, longer than the peer timeouts the tests
#                  use, so dirk's failure detector, not MPI's TCP transport, notices a
#                  partition first; the daemon on a cut-off host gives up about then.
# and retransmits after TCP_RTO_MIN_US (default 50 ms, Linux: 200 ms), so these limits are
# reached close to when they are due. Both are per-namespace settings: nothing outside these
# namespaces changes.
# Usage: N=3 setup.sh   (run teardown.sh first). Writes $NETNS_RUN/hosts.ip for nsmpirun.
set -euo pipefail
N=${N:-3}; PFX=${PFX:-n}; BR=${BR:-br77}; NET=${NET:-10.77.0}; MTU=${MTU:-1500}
RTO_MIN_US=${TCP_RTO_MIN_US:-50000}

ip link add "$BR" type bridge stp_state 0 forward_delay 0
ip link set "$BR" mtu "$MTU" up
host() { # host NAMESPACE ADDRESS TCP_RETRIES2
  local ns=$1
  ip netns add "$ns"
  # root-side end "veth-<ns>" goes on the bridge; the other end is created directly inside
  # the namespace and named eth0 there
  ip link add "veth-$ns" mtu "$MTU" type veth peer name eth0 mtu "$MTU" netns "$ns"
  ip link set "veth-$ns" master "$BR" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$2/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip netns exec "$ns" sh -c "echo $3 > /proc/sys/net/ipv4/tcp_retries2; [ ! -e /proc/sys/net/ipv4/tcp_rto_min_us ] || echo $RTO_MIN_US > /proc/sys/net/ipv4/tcp_rto_min_us"
}
host "${PFX}0" "$NET.254" "${HEAD_TCP_RETRIES2:-2}"
for i in $(seq 1 "$N"); do host "$PFX$i" "$NET.$i" "${TCP_RETRIES2:-4}"; done
run=${NETNS_RUN:-${TMPDIR:-/tmp}/dirk-netns}; mkdir -p "$run"
: > "$run/hosts.ip"
for i in $(seq 1 "$N"); do echo "$NET.$i slots=${SLOTS:-1}" >> "$run/hosts.ip"; done
