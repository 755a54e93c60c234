#!/usr/bin/env bash
# What the enforcer costs, each figure against the same work unenforced in
# the same run (medians of REPS interleaved repetitions). On demand, as root,
# after the build (npm run build, make -C bpf, make -C services/enforcer/native):
#
#   bash test/bench/enforcer.sh      REPS=7 N_OPEN=300000 N_CONNECT=20000 N_FORK=1000 NPM_REPS=3
#
#   open/close loop in an agent          (development, and production: every open audited)   <= 1.40x
#   connect loop to a loopback server    (development)
#   fork+exec loop                       (development)
#   npm ci of this repo's tree, offline  (development agent; from tarballs packed once)     <= 1.05x
#   open/close loop on the host, outside any agent, while a development / a production
#   agent runs                                                                               <= 1.02x
#   agent start: `airlock run -- /bin/true` against /bin/true, and the pipeline's own
#   start (--json startMs: to the agent's exec) against a bare spawn                         <= +50 ms
#
# Unenforced means the same program as the same uid (65534, via setpriv), no
# agent. The loops are C (test/bench/enforcer-loops.c) and time themselves,
# so the CLI's start is not in their figures; npm's enforced figure is the
# agent's own duration (usage.durationMs). A workload the enforcer stops is
# reported "blocked: <why>", not timed.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
REPS=${REPS:-7}
N_OPEN=${N_OPEN:-300000}
N_CONNECT=${N_CONNECT:-20000}
N_FORK=${N_FORK:-1000}
NPM_REPS=${NPM_REPS:-3}
START_REPS=${START_REPS:-15}

[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }
for f in dist/installer/commands/run.js bpf/build/airlock-bpf services/enforcer/native/build/airlock-launch; do
  [[ -e $f ]] || { echo "build first: $f is missing (npm run build; make -C bpf; make -C services/enforcer/native)" >&2; exit 1; }
done

# Not under /tmp: every agent sees its own empty /tmp.
work=$(mktemp -d /var/tmp/airlock-bench-enforcer-XXXXXX)
chmod 755 "$work"
export AIRLOCK_PREFIX=$work/prefix HOME=$work
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

airlock() { node "$REPO/installer/bin/run.js" "$@"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "" }'; }
now_us() { echo $((${EPOCHREALTIME/./})); }
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);const r=new Function("j","return "+process.argv[1])(v);console.log(typeof r==="object"?JSON.stringify(r):r)})' "$1"; }
log() { echo "$*" >&2; }

bin=$work/bin
mkdir -m 755 "$bin"
gcc -O2 -Wall -o "$bin/loops" test/bench/enforcer-loops.c
ws=$work/ws
mkdir -m 755 "$ws"
echo data > "$ws/file"
chown -R 65534:65534 "$ws"

# The policies: the profiles as they are, plus the right to run the loops.
cat > "$work/dev.yaml" <<EOF
agent_policy:
  extends: development
  filesystem:
    exec: ["$bin"]
EOF
cat > "$work/prod.yaml" <<EOF
agent_policy:
  extends: production
  filesystem:
    exec: ["$bin"]
EOF

# One loop in an agent: prints its ns/op, or nothing (and why on stderr) if
# the agent did not finish. Tried twice when the enforcer gave up on it
# (exit 36: another airlock run's sweep can take an agent's cgroups).
in_agent() {
  local policy=$1 out try
  shift
  for try in 1 2; do
    out=$(airlock run --json --policy "$policy" --workspace "$ws" -- "$@" 2>"$work/agent.err") || true
    if [[ $(json 'j.status' <<<"$out" 2>/dev/null) == 0 ]]; then
      grep -E '^[0-9.]+$' "$work/agent.err" | tail -1
      return 0
    fi
    log "agent failed: $(tr -d '\n' <<<"$out" | head -c 300) $(tail -2 "$work/agent.err")"
    [[ $(json 'j.exitCode' <<<"$out" 2>/dev/null) == 36 ]] || return 0
  done
}

# Starts a long-lived agent in the background (node itself, so that its pid
# is the run's) and waits until its program runs.
start_agent() {
  local marker="6${RANDOM}.5" t=0
  node "$REPO/installer/bin/run.js" run --policy "$1" --workspace "$ws" -- /bin/sleep "$marker" >/dev/null 2>"$work/bg.err" &
  agent_pid=$!
  pids+=("$agent_pid")
  until pgrep -fx "/bin/sleep $marker" >/dev/null; do
    sleep 0.02
    t=$((t + 1))
    ((t < 500)) || { log "the agent of $1 did not start: $(tail -2 "$work/bg.err")"; stop_agent; return 1; }
  done
}
stop_agent() { # airlock run ends the tree and cleans up on SIGTERM
  kill -TERM "$agent_pid" 2>/dev/null || true
  wait "$agent_pid" 2>/dev/null || true
}

"$bin/loops" serve > "$work/server.port" &
pids+=($!)
until [[ -s $work/server.port ]]; do sleep 0.02; done
server_port=$(cat "$work/server.port")

declare -A U E # unenforced / enforced samples, space-separated
add() { U[$1]+="${2:-} "; E[$1]+="${3:-} "; }

log "warming up the broker ..."
airlock run --policy "$work/dev.yaml" --workspace "$ws" -- /bin/true >/dev/null 2>&1 || true

for r in $(seq "$REPS"); do
  log "round $r/$REPS: loops"
  u=$(nobody "$bin/loops" open "$ws/file" "$N_OPEN")
  add open-dev "$u" "$(in_agent "$work/dev.yaml" "$bin/loops" open "$ws/file" "$N_OPEN")"
  u=$(nobody "$bin/loops" open "$ws/file" "$N_OPEN")
  add open-prod "$u" "$(in_agent "$work/prod.yaml" "$bin/loops" open "$ws/file" "$N_OPEN")"
  u=$(nobody "$bin/loops" connect "$server_port" "$N_CONNECT")
  add connect "$u" "$(in_agent "$work/dev.yaml" "$bin/loops" connect "$server_port" "$N_CONNECT")"
  u=$(nobody "$bin/loops" forkexec /bin/true "$N_FORK")
  add forkexec "$u" "$(in_agent "$work/dev.yaml" "$bin/loops" forkexec /bin/true "$N_FORK")"

  log "round $r/$REPS: the host while agents run"
  for profile in dev prod; do
    u=$("$bin/loops" open "$ws/file" "$N_OPEN")
    if start_agent "$work/$profile.yaml"; then
      e=$("$bin/loops" open "$ws/file" "$N_OPEN")
      stop_agent
      add "host-$profile" "$u" "$e"
    fi
  done
done

# ------------------------------------------------------------------ agent start
log "agent start ($START_REPS each)"
for r in $(seq "$START_REPS"); do
  t0=$(now_us); /bin/true; t1=$(now_us)
  out=$(airlock run --json --policy development --workspace "$ws" -- /bin/true 2>/dev/null) || true
  t2=$(now_us)
  add start-cli "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1000 }')" "$(awk -v a="$t1" -v b="$t2" 'BEGIN { print (b - a) / 1000 }')"
  E[start-dev]+="$(json 'j.startMs' <<<"$out") "
  out=$(airlock run --json --policy production --workspace "$ws" -- /bin/true 2>/dev/null) || true
  E[start-prod]+="$(json 'j.startMs' <<<"$out") "
done
# a bare spawn from Node, as the pipeline's figure is measured (to the child's exec)
bare_spawn=$(node -e '
const { spawn } = require("node:child_process");
const xs = [];
(async () => {
  for (let i = 0; i < Number(process.argv[1]); i++) {
    const t0 = process.hrtime.bigint();
    await new Promise((r) => spawn("/bin/true").once("spawn", () => { xs.push(Number(process.hrtime.bigint() - t0) / 1e6); r(); }).once("exit", () => {}));
  }
  xs.sort((a, b) => a - b);
  console.log(xs[Math.floor((xs.length - 1) / 2)].toFixed(3));
})();' "$START_REPS")

# ------------------------------------------------------------------ npm ci
npm_status="ok"
lockhash=$(sha256sum package-lock.json | cut -c1-16)
npmdir=/var/tmp/airlock-bench-npm-$lockhash
if [[ ! -f $npmdir/ready ]]; then
  log "packing this repo's node_modules into $npmdir (once) ..."
  rm -rf "$npmdir"
  node test/bench/enforcer-npm-prep.mjs "$REPO" "$npmdir" >&2
  chmod -R a+rX "$npmdir"
  touch "$npmdir/ready"
fi
# The profile as it is; reads the base profile lacks and npm needs are
# added one at a time (each reported), so the figure exists either way.
npm_extra=()
npm_policy() {
  local reads="\"$npmdir/tarballs\"" p
  for p in "${npm_extra[@]}"; do reads+=", \"$p\""; done
  printf 'agent_policy:\n  extends: development\n  filesystem:\n    read: [%s]\n' "$reads" > "$work/npm.yaml"
}
npm_ws() { # a fresh workspace holding a copy of the project
  rm -rf "$work/npm-ws"
  mkdir -m 755 "$work/npm-ws"
  cp -a "$npmdir/project" "$work/npm-ws/project"
  chown -R 65534:65534 "$work/npm-ws"
}
# (--no-update-notifier: otherwise npm asks the registry for a newer npm, DNS and HTTPS, offline or not)
NPM_ARGS=(ci --offline --no-update-notifier --ignore-scripts --no-audit --no-fund --loglevel=error --cache "$work/npm-ws/.npm" --prefix "$work/npm-ws/project")
for r in $(seq "$NPM_REPS"); do
  log "round $r/$NPM_REPS: npm ci"
  npm_ws
  t0=$(now_us)
  (cd "$work/npm-ws" && nobody env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work/npm-ws" /usr/bin/npm "${NPM_ARGS[@]}" >/dev/null)
  t1=$(now_us)
  [[ -f $work/npm-ws/project/node_modules/.package-lock.json ]] || { npm_status="blocked: npm ci fails even unenforced"; break; }
  U[npm]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e6 }') "
  retries=0
  while :; do
    npm_ws
    npm_policy
    out=$(airlock run --json --policy "$work/npm.yaml" --workspace "$work/npm-ws" -- /usr/bin/npm "${NPM_ARGS[@]}" 2>"$work/npm.err") || true
    if [[ $(json 'j.status' <<<"$out" 2>/dev/null) == 0 ]]; then
      E[npm]+="$(json 'j.usage.durationMs / 1000' <<<"$out") "
      break
    fi
    why=$(json 'j.violation ? `killed at its first violation: ${j.violation.layer} ${j.violation.operation} ${j.violation.target}` : j.error ? `${j.error.code}: ${j.error.message}` : `exit ${j.status}`' <<<"$out" 2>/dev/null || echo "no result from airlock run")
    log "npm ci in the agent: $why; its last words: $(tail -2 "$work/npm.err")"
    missing=$(json 'j.violation && j.violation.layer === "landlock" && ["read", "list"].includes(j.violation.operation) ? j.violation.target : ""' <<<"$out" 2>/dev/null || true)
    if [[ -n $missing && ${#npm_extra[@]} -lt 5 ]]; then
      npm_extra+=("$missing")
      log "granting read of $missing in the bench's npm policy and trying again"
      continue
    fi
    if [[ $(json 'j.exitCode' <<<"$out" 2>/dev/null) == 36 && $retries -lt 1 ]]; then
      retries=$((retries + 1)) # (another airlock run's sweep can take an agent's cgroups: see the escape suite)
      continue
    fi
    npm_status="blocked: $why"
    break 2
  done
done
npm_note=""
((${#npm_extra[@]} == 0)) || npm_note="(base profile blocks it: killed reading ${npm_extra[*]}; figure with those reads granted)"

# ------------------------------------------------------------------ the table
row() { # name key unit target(ratio or +ms) [status] [note]
  local name=$1 key=$2 unit=$3 target=$4 status=${5:-} note=${6:-}
  local u e ratio verdict
  u=$(tr ' ' '\n' <<<"${U[$key]:-}" | grep . | median || true)
  e=$(tr ' ' '\n' <<<"${E[$key]:-}" | grep . | median || true)
  [[ -z $u ]] || u=$(awk -v x="$u" 'BEGIN { printf (x < 100 ? "%.2f" : "%.0f"), x }')
  [[ -z $e ]] || e=$(awk -v x="$e" 'BEGIN { printf (x < 100 ? "%.2f" : "%.0f"), x }')
  if [[ -n $status && $status != ok ]]; then
    printf '%-52s %14s %14s %9s %9s  %s\n' "$name" "${u:+$u $unit}" "-" "-" "$target" "$status"
    return
  fi
  if [[ -z $u || -z $e ]]; then
    printf '%-52s %14s %14s %9s %9s  %s\n' "$name" "${u:+$u $unit}" "${e:+$e $unit}" "-" "$target" "blocked: no figure (see the log above)"
    return
  fi
  if [[ $target == +* ]]; then
    ratio=$(awk -v u="$u" -v e="$e" 'BEGIN { printf "+%.1f ms", e - u }')
    verdict=$(awk -v u="$u" -v e="$e" -v t="${target#+}" 'BEGIN { print (e - u <= t + 0) ? "pass" : "miss" }')
  else
    ratio=$(awk -v u="$u" -v e="$e" 'BEGIN { printf "%.3fx", e / u }')
    verdict=$([[ $target == - ]] && echo "-" || awk -v u="$u" -v e="$e" -v t="$target" 'BEGIN { print (e / u <= t + 0) ? "pass" : "miss" }')
  fi
  printf '%-52s %14s %14s %9s %9s  %s\n' "$name" "$u $unit" "$e $unit" "$ratio" "$target" "$verdict${note:+ $note}"
}
U[start-dev]=$bare_spawn U[start-prod]=$bare_spawn
echo
echo "enforcer bench: medians of $REPS rounds (npm: $NPM_REPS, start: $START_REPS); $(nproc) CPUs, $(uname -r)"
printf '%-52s %14s %14s %9s %9s  %s\n' measurement unenforced enforced ratio target result
row "open+close, development agent" open-dev ns 1.40
row "open+close, production agent (every open audited)" open-prod ns 1.40
row "connect to loopback, development agent" connect ns -
row "fork+exec /bin/true, development agent" forkexec ns -
row "npm ci ($(ls "$npmdir/tarballs" | wc -l) packages, offline), development agent" npm s 1.05 "$npm_status" "$npm_note"
row "host open+close while a development agent runs" host-dev ns 1.02
row "host open+close while a production agent runs" host-prod ns 1.02
row "start: airlock run -- /bin/true vs /bin/true" start-cli ms +50
row "start in the pipeline (to exec), development" start-dev ms +50
row "start in the pipeline (to exec), production" start-prod ms +50
