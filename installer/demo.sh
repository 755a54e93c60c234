#!/usr/bin/env bash
# The appliance demo, run by `npm run demo` once .ci/prepare has built
# everything: throwaway keys → a signed bundle of images/default → verify and
# inspect it → install it into a local prefix → status → stop → clean up.
# Steps 8-12 run sample agents under each profile (the enforcer).
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO="$PWD/.airlock-demo"
PREFIX="$DEMO/prefix"
BUNDLE="$DEMO/airlock-default.airlock"

airlock() { node installer/bin/run.js "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  echo "airlock demo: installing the appliance needs root (it will run kernel-enforced agents); run it as root" >&2
  exit 1
fi

# Whatever happens, leave no process and no files behind.
cleanup() {
  if [[ -d "$PREFIX" ]]; then airlock down --prefix "$PREFIX" >/dev/null 2>&1 || true; fi
  rm -rf "$DEMO"
}
trap cleanup EXIT
cleanup # leftovers of an interrupted earlier run
mkdir -p "$DEMO"

step "1. An offline root CA and a signer (demo keys, deleted at the end)"
airlock keys init --out "$DEMO/keys" --cn "Airlock Demo Root" --signer-cn "Airlock Demo Signer" --days 30 --signer-days 30

step "2. Build and sign the default appliance bundle from images/default"
airlock bundle create images/default --signer-key "$DEMO/keys/signer.key" --signer-cert "$DEMO/keys/signer.crt" --out "$BUNDLE"

step "3. Verify it against the root: signatures, expiry, every payload byte"
airlock bundle verify "$BUNDLE" --trust "$DEMO/keys/root.crt"

step "4. What it holds (as declared; inspect does not verify)"
airlock bundle inspect "$BUNDLE"

step "5. Is this host fit to run it?"
airlock doctor --prefix "$PREFIX" || echo "(doctor found failing checks; the demo goes on)" >&2

step "6. Install into $PREFIX: pin the root, extract, switch, start, wait for health"
airlock install "$BUNDLE" --trust "$DEMO/keys/root.crt" --prefix "$PREFIX"

step "7. Status"
airlock status --prefix "$PREFIX"

# ---------------------------------------------------------------- agents
# The enforcer: a sample agent under each profile, one allowed action and one
# denied, then the audit trail. Workspaces live outside /tmp (each agent gets
# its own /tmp) and outside this checkout (the agent runs as uid 65534).
AGENT_WS=$(mktemp -d /var/tmp/airlock-demo-agents-XXXXXX)
trap 'rm -rf "$AGENT_WS"; cleanup' EXIT
chmod 755 "$AGENT_WS"
cat >"$AGENT_WS/agent.py" <<'AGENT'
import json, socket, subprocess, sys, urllib.request
def act(what, *args):
    try:
        if what == "write": open(args[0], "w").write("written by the agent\n"); return "ok"
        if what == "read": return open(args[0]).read().strip()
        if what == "spawn": return subprocess.run(list(args), capture_output=True, text=True).stdout.strip()
        if what == "get": return json.load(urllib.request.urlopen(args[0], timeout=3))["status"]
        if what == "connect": socket.create_connection((args[0], int(args[1])), timeout=3).close(); return "ok"
    except OSError as e:
        return f"refused: {e.strerror or e}"
for step in sys.argv[1:]:
    print(f"  agent: {step} -> {act(*step.split(' '))}", flush=True)
AGENT
chown -R 65534:65534 "$AGENT_WS"
cat >"$AGENT_WS/production-demo.yaml" <<'POLICY'
agent_policy:
  extends: production
  on_violation: deny            # show the refusal and go on (the default, kill, ends the agent)
  network:
    allow_egress: ["tcp://127.0.0.1:7499"]   # the appliance's health service, nothing else
POLICY
agent() { # agent POLICY ACTION... (exit code shown, the demo goes on)
  local code=0
  airlock run --prefix "$PREFIX" --policy "$1" --workspace "$AGENT_WS" -- /usr/bin/python3 agent.py "${@:2}" || code=$?
  echo "  (airlock run exited $code)" >&2
}

step "8. The enforcer's layers on this host"
airlock doctor --prefix "$PREFIX" --json | node -e 'for (const c of JSON.parse(require("fs").readFileSync(0, "utf8")).checks) if (/^(landlock|seccomp|ebpf|kaudit)\./.test(c.id)) console.error(`  ${c.status.toUpperCase().padEnd(4)} ${c.id}: ${c.message}`)'

step "9. sandbox: writes its workspace; starting a process ends it at once (seccomp, exit 33)"
agent sandbox "write notes.txt" "spawn id" "write never.txt"

step "10. development: runs a child, reaches the appliance on loopback; the Internet ends it in the kernel"
agent development "spawn uname -r" "get http://127.0.0.1:7499/healthz" "connect 192.0.2.1 80" "write never.txt"

step "11. production (on_violation: deny): only its listed address; anything else is refused and it goes on"
agent "$AGENT_WS/production-demo.yaml" "get http://127.0.0.1:7499/healthz" "connect 127.0.0.1 4873" "read /etc/hostname" "write report.txt"

step "12. The audit trail (production's many allowed opens, execs and sockets left out), then no agent is left"
airlock audit tail --prefix "$PREFIX" -n 1000 | grep -vE ' ALLOW (open|exec|spawn|socket) '
[[ -e "$AGENT_WS/never.txt" ]] && echo "demo: never.txt exists: an agent went on after its violation" >&2 && exit 1
airlock agents --prefix "$PREFIX"
# The BPF broker unloads every program 3 s after the last run.
for _ in $(seq 60); do [[ -e /run/airlock/enforcer-bpf.sock ]] || break; sleep 0.1; done
# ----------------------------------------------------------- end of agents

step "13. Stop it (and check nothing of it is left running)"
airlock down --prefix "$PREFIX"

step "14. Uninstall, state included"
airlock uninstall --purge --prefix "$PREFIX"
printf '\ndemo finished: everything it made is gone\n' >&2
