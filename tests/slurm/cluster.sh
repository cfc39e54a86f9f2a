#!/usr/bin/env bash
# A throwaway one-node Slurm for tests: munge, slurmctld and slurmd from Debian's slurm-wlm,
# started as root with a minimal slurm.conf in a temp dir (MpiDefault=pmix, as most sites).
#   tests/slurm/cluster.sh up DIR     start it (state, spool, logs and slurm.conf under DIR)
#   tests/slurm/cluster.sh down DIR   stop it
# After `up`, export SLURM_CONF=DIR/slurm.conf for sbatch/squeue/sinfo.
# Traps (checked on Debian 12, Slurm 22.05): the node name must equal `hostname -s`;
# State=UP is rejected (use UNKNOWN); no cgroup.conf (CgroupPlugin=disabled does not exist in
# 22.05: slurmd dies even though the command returns 0), so always wait for the node state.
set -euo pipefail
cmd=${1:?up or down}; dir=$(readlink -f "${2:?state dir}")
conf=$dir/slurm.conf
case "$cmd" in
up)
  mkdir -p "$dir"/{state,spool,log}
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  pgrep -x munged >/dev/null || runuser -u munge -- munged
  host=$(hostname -s)
  node=$(slurmd -C | head -1)
  cat > "$conf" <<CONF
ClusterName=dirktest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF=$conf
  slurmctld -c -f "$conf"
  slurmd -f "$conf"
  for _ in $(seq 1 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    case "$state" in idle*|mix*|alloc*) echo "slurm: node $host $state"; exit 0;; esac
    sleep 0.5
  done
  echo "slurm: node did not come up (state: ${state:-none}); logs in $dir/log" >&2
  tail -5 "$dir/log/slurmd.log" "$dir/log/slurmctld.log" >&2 || true
  exit 1
  ;;
down)
  for d in slurmd slurmctld; do
    [ -f "$dir/$d.pid" ] && kill "$(cat "$dir/$d.pid")" 2>/dev/null || true
  done
  sleep 1
  exit 0
  ;;
esac
