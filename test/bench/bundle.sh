#!/usr/bin/env bash
# Bundle benchmark: one 2 GiB incompressible payload packed and checked by
# Airlock, RAUC and Mender, with `openssl dgst -sha256` and `tar -xf` as the
# limits, all in the same run. Prints seconds (median of RUNS), ratios and
# peak RSS. Run on demand, as root:  bash test/bench/bundle.sh
#
#   SIZE_MIB=2048  payload size      RUNS=3  repetitions per step
#   BENCH_DIR=/var/tmp/airlock-bench  (needs ~4 × SIZE free)
#
# Peers run in their fastest comparable mode: uncompressed (RAUC: plain
# format, mksquashfs without compression; Mender: --compression none), since
# the payload is incompressible and Airlock bundles are uncompressed too.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SIZE_MIB=${SIZE_MIB:-2048}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/var/tmp/airlock-bench}

need=()
for pkg in rauc mender-artifact squashfs-tools time openssl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
bash .ci/prepare >/dev/null

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
trap 'rm -rf "$BENCH_DIR"' EXIT
cd "$BENCH_DIR"
AIRLOCK=(node "$ROOT/installer/bin/run.js")

echo "preparing a ${SIZE_MIB} MiB incompressible payload..." >&2
mkdir -p image/data rauc/content
# openssl rand takes at most 2 GiB - 1 per call: write 64 MiB pieces.
for ((i = 0; i < SIZE_MIB; i += 64)); do openssl rand $((64 * 1024 * 1024)); done | head -c $((SIZE_MIB * 1024 * 1024)) > image/data/payload.bin
ln image/data/payload.bin rauc/content/payload.img
printf 'name: bench\nversion: 1.0.0\nsequence: 1\ncomponents:\n  - name: data\n    files:\n      - src: data\n        dest: data\n' > image/image.yaml
printf '[update]\ncompatible=airlock-bench\nversion=1.0\n[bundle]\nformat=plain\n[image.rootfs]\nfilename=payload.img\n' > rauc/content/manifest.raucm

"${AIRLOCK[@]}" keys init --out keys >/dev/null
openssl req -x509 -newkey rsa:3072 -nodes -keyout rauc/key.pem -out rauc/cert.pem -days 2 -subj /CN=bench 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 2>/dev/null | openssl rsa -traditional -out mender.key 2>/dev/null
openssl rsa -in mender.key -pubout -out mender.pub 2>/dev/null

# measure NAME SETUP CMD...: runs SETUP (unmeasured) then CMD, RUNS times;
# records the median wall time and the largest peak RSS.
declare -A SECONDS_OF RSS_OF
measure() {
  local name=$1 setup=$2
  shift 2
  local times=() rss=0
  for ((i = 0; i < RUNS; i++)); do
    eval "$setup"
    sync
    /usr/bin/time -f '%e %M' -o time.out "$@" >/dev/null 2>cmd.err || { cat cmd.err >&2; echo "$name failed" >&2; exit 1; }
    read -r t m < time.out
    times+=("$t")
    ((m > rss)) && rss=$m
  done
  SECONDS_OF[$name]=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
  RSS_OF[$name]=$rss
  printf '  %-26s %7.2f s  %6d MiB peak RSS\n' "$name" "${SECONDS_OF[$name]}" $((rss / 1024)) >&2
}
warm() { cat "$@" >/dev/null; }

echo "create" >&2
measure airlock-create "rm -f b.airlock; warm image/data/payload.bin" \
  "${AIRLOCK[@]}" bundle create image --signer-key keys/signer.key --signer-cert keys/signer.crt --out b.airlock
measure rauc-bundle "rm -f b.raucb; warm rauc/content/payload.img" \
  rauc bundle --cert=rauc/cert.pem --key=rauc/key.pem --mksquashfs-args="-noI -noD -noF -noX" rauc/content b.raucb
measure mender-write "rm -f b.mender; warm image/data/payload.bin" \
  mender-artifact write rootfs-image -t bench -n bench-1 -f image/data/payload.bin -k mender.key --compression none -o b.mender

echo "verify (every byte hashed)" >&2
measure airlock-verify "warm b.airlock" "${AIRLOCK[@]}" bundle verify b.airlock --trust keys/root.crt
measure mender-validate "warm b.mender" mender-artifact validate b.mender -k mender.pub
measure openssl-sha256 "warm b.airlock" openssl dgst -sha256 b.airlock

echo "verify + extract" >&2
measure airlock-extract "rm -rf out; warm b.airlock" "${AIRLOCK[@]}" bundle extract b.airlock --trust keys/root.crt --to out
measure rauc-extract "rm -rf out; warm b.raucb" rauc extract --keyring=rauc/cert.pem b.raucb out
measure tar-xf "rm -rf out; mkdir out; warm b.airlock" tar -xf b.airlock -C out
rm -rf out

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mibps() { awk -v s="$1" -v m="$SIZE_MIB" 'BEGIN { printf "%.0f", m / s }'; }
cat <<EOF

Airlock bundle benchmark: ${SIZE_MIB} MiB incompressible payload, median of ${RUNS}, $(nproc) CPUs
step             airlock   peer/limit                      ratio (peer ÷ airlock; >1 = airlock faster)
create           ${SECONDS_OF[airlock-create]} s    rauc bundle ${SECONDS_OF[rauc-bundle]} s              $(ratio "${SECONDS_OF[rauc-bundle]}" "${SECONDS_OF[airlock-create]}")
                           mender-artifact write ${SECONDS_OF[mender-write]} s    $(ratio "${SECONDS_OF[mender-write]}" "${SECONDS_OF[airlock-create]}")
verify           ${SECONDS_OF[airlock-verify]} s    mender-artifact validate ${SECONDS_OF[mender-validate]} s $(ratio "${SECONDS_OF[mender-validate]}" "${SECONDS_OF[airlock-verify]}")
                           openssl dgst -sha256 ${SECONDS_OF[openssl-sha256]} s     $(ratio "${SECONDS_OF[openssl-sha256]}" "${SECONDS_OF[airlock-verify]}") (target ≥ 0.80)
verify+extract   ${SECONDS_OF[airlock-extract]} s    rauc extract ${SECONDS_OF[rauc-extract]} s             $(ratio "${SECONDS_OF[rauc-extract]}" "${SECONDS_OF[airlock-extract]}")
                           tar -xf ${SECONDS_OF[tar-xf]} s                  $(ratio "${SECONDS_OF[tar-xf]}" "${SECONDS_OF[airlock-extract]}") (target > 1; airlock also fsyncs)
throughput       create $(mibps "${SECONDS_OF[airlock-create]}") MiB/s, verify $(mibps "${SECONDS_OF[airlock-verify]}") MiB/s, extract $(mibps "${SECONDS_OF[airlock-extract]}") MiB/s
peak RSS         airlock create $((RSS_OF[airlock-create] / 1024)) MiB, verify $((RSS_OF[airlock-verify] / 1024)) MiB, extract $((RSS_OF[airlock-extract] / 1024)) MiB; rauc extract $((RSS_OF[rauc-extract] / 1024)) MiB; mender validate $((RSS_OF[mender-validate] / 1024)) MiB
EOF
