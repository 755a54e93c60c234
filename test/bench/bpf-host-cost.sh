#!/usr/bin/env bash
# What the BPF layer costs the host and an agent's start. Run on demand, as
# root, after `make -C bpf`:  bash test/bench/bpf-host-cost.sh
#
# Prints, against the same loop with no loader in the same run (medians of
# ROUNDS interleaved rounds of N open+close pairs each):
#   host, loader + agents (allows not audited)   target <= 1.02
#   host, loader + an agent auditing allows      its mounts marked (fanotify)  target <= 1.02
#   agent, auditing allows (tracked, every open reported)
# Agents run in a mount namespace of their own (unshare), as the launcher's do.
# and the latency of add-agent (one loader for all agents) against starting
# a loader (what a loader per agent would pay each time).
#   ROUNDS=7 N=200000
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-7}
N=${N:-200000}
LOADER=bpf/build/airlock-bpf
[[ -x $LOADER ]] || { echo "build first: make -C bpf" >&2; exit 1; }

work=$(mktemp -d)
cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
cgq="$cg2/airlock-bench-$$-quiet"
cga="$cg2/airlock-bench-$$-audit"
cgs="$cg2/airlock-bench-$$-sleeper"
cleanup() {
  [[ -n ${LPID:-} ]] && kill "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null || true
  for d in "$cgq" "$cga" "$cgs"; do [[ -d $d ]] && { echo 1 > "$d/cgroup.kill"; sleep 0.1; rmdir "$d"; }; done
  rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -o "$work/loop" test/bench/bpf-openclose.c
mkdir "$cgq" "$cga" "$cgs"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
minimum() { sort -n | head -1; }
now_us() { echo $(( ${EPOCHREALTIME/./} )); }

# the loader reads requests from a fifo and writes to a file, drained at once
start_loader() {
  rm -f "$work/in" "$work/out"; mkfifo "$work/in"; : > "$work/out"
  "$LOADER" < "$work/in" > "$work/out" 2>/dev/null &
  LPID=$!
  exec {LIN}>"$work/in"
  until grep -q '"event":"ready"' "$work/out"; do sleep 0.0005; done
}
# sends one request and waits for the reply with its seq
request() {
  echo "$2" >&"$LIN"
  until grep -q "\"seq\":$1," "$work/out"; do sleep 0.0005; done
}
policy() { echo "{\"kill\":false,\"auditAllows\":$1,\"tcp\":true,\"udp\":true,\"resolver\":null,\"v4\":[{\"address\":\"127.0.0.0\",\"prefix\":8,\"rules\":[[0,0,0,65535,1]]}],\"v6\":[]}"; }
stop_loader() { exec {LIN}>&-; wait "$LPID" || true; LPID=; }

# loader start (a loader per agent would pay this per agent) and add-agent latency
starts=() adds=()
for i in $(seq 5); do
  t0=$(now_us); start_loader; t1=$(now_us)
  request 1 "{\"cmd\":\"add-agent\",\"seq\":1,\"id\":\"a\",\"cgroup\":\"$cgq\",\"policy\":$(policy false)}"
  t2=$(now_us)
  starts+=($((t1 - t0))) adds+=($((t2 - t1)))
  stop_loader
done
printf 'loader start (load + verify + attach, per loader): median %s us\n' "$(printf '%s\n' "${starts[@]}" | median)"
printf 'add-agent on a running loader:                     median %s us\n' "$(printf '%s\n' "${adds[@]}" | median)"

# starts argv in cgroup $1 and a mount namespace of its own, blocked until
# "go" on $work/go; its pid in $gate
start_in_agent() {
  local cg=$1
  shift
  rm -f "$work/go"; mkfifo "$work/go"
  unshare --mount --propagation slave sh -c 'echo $$ > "$1/cgroup.procs"; read _ < "$2"; shift 2; exec "$@"' gate "$cg" "$work/go" "$@" > "$work/agent" &
  gate=$!
  until grep -qx "$gate" "$cg/cgroup.procs" 2>/dev/null; do sleep 0.0005; done
}
# the loop as the agent runs it: in its cgroup and namespace, tracked before it execs
run_in_agent() {
  start_in_agent "$cga" "$work/loop" "$N" > /dev/null
  request "$1" "{\"cmd\":\"track-pid\",\"seq\":$1,\"id\":\"a\",\"pid\":$gate}"
  echo go > "$work/go"
  wait "$gate"
}
declare -a none quiet hooked agent
for r in $(seq "$ROUNDS"); do
  none+=("$("$work/loop" "$N")")
  start_loader
  request 1 "{\"cmd\":\"add-agent\",\"seq\":1,\"id\":\"q\",\"cgroup\":\"$cgq\",\"policy\":$(policy false)}"
  quiet+=("$("$work/loop" "$N")")
  # an agent auditing allows, watched and running (asleep) while the host loops
  request 2 "{\"cmd\":\"add-agent\",\"seq\":2,\"id\":\"s\",\"cgroup\":\"$cgs\",\"policy\":$(policy true)}"
  start_in_agent "$cgs" sleep 600
  sleeper=$gate
  request 3 "{\"cmd\":\"track-pid\",\"seq\":3,\"id\":\"s\",\"pid\":$sleeper}"
  echo go > "$work/go"
  hooked+=("$("$work/loop" "$N")")
  request 4 "{\"cmd\":\"add-agent\",\"seq\":4,\"id\":\"a\",\"cgroup\":\"$cga\",\"policy\":$(policy true)}"
  run_in_agent 5
  agent+=("$(cat "$work/agent")")
  request 6 '{"cmd":"ping","seq":6}'
  reported=$(grep -c '"event":"bpf"' "$work/out" || true)
  lost=$(grep -o '"seq":6,[^}]*' "$work/out" | grep -o '"lost":[0-9]*' | cut -d: -f2)
  echo 1 > "$cgs/cgroup.kill"
  wait "$sleeper" 2>/dev/null || true
  stop_loader
done
# medians, and minimums (steadier when other work shares the machine)
m_none=$(printf '%s\n' "${none[@]}" | median)
n_none=$(printf '%s\n' "${none[@]}" | minimum)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3fx", a / b }'; }
report() {
  local -n xs=$2
  local m n
  m=$(printf '%s\n' "${xs[@]}" | median)
  n=$(printf '%s\n' "${xs[@]}" | minimum)
  printf '%-50s median %7s ns %s   min %7s ns %s\n' "$1" "$m" "$(ratio "$m" "$m_none")" "$n" "$(ratio "$n" "$n_none")"
}
echo "open+close, $ROUNDS rounds x $N:"
report 'host, no loader' none
report 'host, loader + agent (allows not audited)' quiet
report 'host, loader + agent auditing allows (marked)' hooked
report 'agent auditing allows (every open reported)' agent
echo "last round: $reported events forwarded, $lost lost (full ring buffer or fanotify queue)"
