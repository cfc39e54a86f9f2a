#!/bin/bash
# Copied from the team's checked scripts (shared/netns) and owned by this project; changed
# here: the head namespace n0 goes too.
# Remove everything setup.sh created: every namespace whose veth is a port of
# the bridge (or n0..n$N if N is given), the veths, and the bridge.
# A namespace stays alive after "ip netns delete" as long as a process is still
# inside it (and so do its eth0 and the root-side veth peer), so first kill the
# processes that are still running *inside* our namespaces, by PID.
PFX=${PFX:-n}; BR=${BR:-br77}
if [ -n "${N:-}" ]; then
  list=$(seq -f "$PFX%g" 0 "$N")
else
  list=$(ip -o link show master "$BR" 2>/dev/null | sed -n 's/^[0-9]*: veth-\([^@:]*\).*/\1/p')
  list="$list $(cd /run/netns 2>/dev/null && ls | grep -E "^$PFX[0-9]+$")"
fi
for ns in $(echo $list | tr ' ' '\n' | sort -u); do
  if [ -e "/run/netns/$ns" ]; then
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns delete "$ns"
  fi
  ip link del "veth-$ns" 2>/dev/null || true
done
ip link del "$BR" 2>/dev/null || true
exit 0
