#!/bin/bash
# Fault trials across network namespaces (issue 9): how long a dirk job on 3 "hosts" takes to
# end after one of three faults, over TRIALS trials each (default 10). Run as root, from the
# repository root, after `cargo build --release`:
#
#   sudo benches/faults.sh [TRIALS] [PEER_TIMEOUT]
#
# Scenarios (3 hosts, one rank each, rank r on host r+1; mpirun in the head namespace):
#   sigstop    SIGSTOP of the rank on host 2
#   linkdown   host 2's link goes down (ip link set veth-<host> down, the bridge side)
#   partition  hosts 2 and 3 drop what they send each other (blackhole routes); both still
#              reach host 1 and mpirun
# The fault is applied 1 s after rank 0 logged the job's start (every rank is past MPI
# start-up by then). Per trial it prints: the job's end (mpirun exits) after the fault; when
# the last dirk rank on any host was gone; when the namespaces had no process left at all
# (Open MPI's daemon on a cut-off host lingers until its TCP link gives up); the exit status;
# whether dirk's detector named the silent rank. A trial passes when the job and every rank
# ended within PEER_TIMEOUT + 5 s.
set -u
trials=${1:-10}; timeout=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
dirk=$(readlink -f "${DIRK:-$root/target/release/dirk}")
netns=$root/tests/netns
[ "$(id -u)" = 0 ] || { echo "faults.sh: needs root (network namespaces)" >&2; exit 2; }
[ -x "$dirk" ] || { echo "faults.sh: build first: cargo build --release ($dirk)" >&2; exit 2; }
work=$(mktemp -d /tmp/dirk-faults.XXXXXX)
export PFX=dkf BR=brdkf NETNS_RUN=$work/netns
trap '"$netns/teardown.sh"; rm -rf "$work"' EXIT
limit=$((timeout + 5))
job=$work/long.json
cat > "$job" <<EOF
{"dirk": 1, "name": "faults", "tasks": [
 {"id": "x", "op": "fill", "args": [[8], 1.0]},
 {"id": "t0", "op": "busy", "args": ["x"], "params": {"iterations": 200000000000}, "scope": {"rank": 0}},
 {"id": "t1", "op": "busy", "args": ["x"], "params": {"iterations": 200000000000}, "scope": {"rank": 1}},
 {"id": "t2", "op": "busy", "args": ["x"], "params": {"iterations": 200000000000}, "scope": {"rank": 2}}
]}
EOF
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
ranks() { # pids of the dirk ranks of this job (not mpirun, whose command line names it too)
  for p in $(pgrep -f "run $job"); do [ "$(readlink "/proc/$p/exe")" = "$dirk" ] && echo "$p"; done; return 0; }
ns_busy() { for i in 1 2 3; do ip netns pids "$PFX$i"; done 2>/dev/null | grep -q .; }

echo "# faults.sh: $trials trials per scenario, --peer-timeout $timeout (limit $limit s); $(date -u '+%F %H:%M UTC'); $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-10s %5s %8s %8s %8s %4s %6s %s\n' scenario trial job_end ranks_gone ns_empty rc named pass
summary=""
for sc in sigstop linkdown partition; do
  pass=0; ends=""
  for t in $(seq 1 "$trials"); do
    started=no
    for attempt in 1 2 3; do
      "$netns/teardown.sh"; N=3 "$netns/setup.sh" || exit 1
      log=$work/$sc-$t.log
      timeout 120 "$netns/nsmpirun" -n 3 "$dirk" run "$job" --threads 1 --peer-timeout "$timeout" >/dev/null 2>"$log" &
      mp=$!
      start=$(now)
      until grep -q "tasks on 3 ranks" "$log"; do
        sleep 0.05
        kill -0 "$mp" 2>/dev/null && [ "$(since "$start" | cut -d. -f1)" -lt 60 ] && continue
        # Open MPI could not start the job (now and then: "ORTE was unable to reliably start
        # one or more daemons"): say so and start the trial again; no fault was applied.
        kill "$mp" 2>/dev/null; wait "$mp"
        echo "$sc $t: the job did not start (attempt $attempt): $(grep -m1 -E 'ORTE|rror' "$log")"
        continue 2
      done
      started=yes; break
    done
    [ "$started" = yes ] || { echo "$sc $t: no start in 3 attempts"; continue; }
    sleep 1
    victim=$(ip netns pids "${PFX}2" | while read -r p; do ranks | grep -qx "$p" && echo "$p"; done)
    tf=$(now)
    case $sc in
      sigstop) kill -STOP "$victim" ;;
      linkdown) ip link set "veth-${PFX}2" down ;;
      partition) ip -n "${PFX}2" route add blackhole 10.77.0.3/32; ip -n "${PFX}3" route add blackhole 10.77.0.2/32 ;;
    esac
    wait "$mp"; rc=$?; job_end=$(since "$tf")
    while [ -n "$(ranks)" ] && [ "$(since "$tf" | cut -d. -f1)" -lt 30 ]; do sleep 0.05; done
    gone=$(since "$tf")
    while ns_busy && [ "$(since "$tf" | cut -d. -f1)" -lt 30 ]; do sleep 0.1; done
    empty=$(since "$tf")
    named=no; grep -q "has not answered" "$log" && named=yes
    ok=no
    if awk -v a="$job_end" -v b="$gone" -v l="$limit" 'BEGIN { exit !(a < l && b < l) }' && [ "$rc" != 0 ]; then
      ok=yes; pass=$((pass + 1))
    fi
    printf '%-10s %5s %8s %8s %8s %4s %6s %s\n' "$sc" "$t" "$job_end" "$gone" "$empty" "$rc" "$named" "$ok"
    ends="$ends $job_end"
  done
  [ "$trials" -gt 0 ] && summary="$summary$(printf '%-10s %2d/%d within %d s; job end after the fault: min %s, median %s, max %s s' "$sc" "$pass" "$trials" "$limit" \
    $(echo $ends | tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[1], v[int((NR + 1) / 2)], v[NR] }'))\n"
done

# No false alarm, and what the heartbeats cost: every rank computes for 30 s or more in one
# task with --peer-timeout 5; the job must succeed. Half-way, the CPU time of each rank's
# heartbeat thread (heartbeats sent and received) and watchdog thread (silence checks) over
# their lifetime. (`faults.sh 0` runs only this.)
slow=$work/slow.json
cat > "$slow" <<EOF
{"dirk": 1, "name": "slow", "tasks": [
 {"id": "x", "op": "fill", "args": [[8], 1.0]},
 {"id": "t0", "op": "busy", "args": ["x"], "params": {"iterations": 30000000000}, "scope": {"rank": 0}},
 {"id": "t1", "op": "busy", "args": ["x"], "params": {"iterations": 30000000000}, "scope": {"rank": 1}},
 {"id": "t2", "op": "busy", "args": ["x"], "params": {"iterations": 30000000000}, "scope": {"rank": 2}}
]}
EOF
"$netns/teardown.sh"; N=3 "$netns/setup.sh" || exit 1
log=$work/slow.log
start=$(now)
timeout 300 "$netns/nsmpirun" -n 3 "$dirk" run "$slow" --threads 1 --peer-timeout 5 >/dev/null 2>"$log" &
mp=$!
until grep -q "tasks on 3 ranks" "$log" || ! kill -0 "$mp" 2>/dev/null; do sleep 0.1; done
sleep 15
hz=$(getconf CLK_TCK)
cpu=$(for p in $(pgrep -f "run $slow"); do
  [ "$(readlink "/proc/$p/exe")" = "$dirk" ] || continue
  for t in /proc/"$p"/task/*; do
    name=$(cat "$t/comm" 2>/dev/null)
    case $name in dirk-heartbeat|dirk-watchdog) ;; *) continue ;; esac
    # after the command name: utime, stime (fields 14, 15) and starttime (22), in clock ticks
    awk -v hz="$hz" -v up="$(cut -d' ' -f1 /proc/uptime)" '{ sub(/^.*\) /, ""); t = $12 + $13; life = up - $20 / hz;
      printf "pid %s %s %d ticks (%.2f s) in %.1f s = %.3f %%\n", p, name, t, t / hz, life, 100 * t / hz / life }' \
      p="$p" name="$name" "$t/stat"
  done
done)
wait "$mp"; rc=$?
echo "no false alarm: 30 s tasks, --peer-timeout 5: exit $rc after $(since "$start") s, $(grep -c 'has not answered' "$log") alarms"
echo "CPU time of the failure detector's threads (pid, thread, CPU, lifetime, share of one core):"
echo "$cpu"
[ -z "$summary" ] || { echo; printf "%b" "$summary"; }
