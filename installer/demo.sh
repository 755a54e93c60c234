#!/usr/bin/env bash
# The appliance demo, run by `npm run demo` once .ci/prepare has built
# everything: throwaway keys → a signed bundle of images/default → verify and
# inspect it → install it into a local prefix → status → stop → clean up.
# (Agent runs join here as the enforcer lands.)
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

step "8. Stop it (and check nothing of it is left running)"
airlock down --prefix "$PREFIX"

step "9. Uninstall, state included"
airlock uninstall --purge --prefix "$PREFIX"
printf '\ndemo finished: everything it made is gone\n' >&2
