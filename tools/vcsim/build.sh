#!/usr/bin/env bash
# tools/vcsim/build.sh [OUTDIR] -- build govmomi's vSphere API simulator (vcsim) and CLI (govc)
# from Debian bookworm packages only (no Go module proxy, no GitHub), for the vSphere tests and bench.
#
# Default OUTDIR: <repo>/.cache/vcsim/bin (git-ignored). Idempotent: when OUTDIR already holds both
# binaries built from the same recipe (stamp = sha256 of this script + the patch), it only smoke-tests
# them and prints their paths. Works on a fresh Debian 12 machine as root (or with sudo): installs
# Debian's golang-go and govmomi library packages, fetches the govmomi *source* package through a
# private apt configuration (the system's sources are not changed), applies Debian's patches plus
# ours, builds in GOPATH mode and smoke-tests vcsim + govc on loopback.
#
# Why the source package: golang-github-vmware-govmomi-dev drops govc/ and vcsim/
# (DH_GOLANG_EXCLUDES); the orig tarball of the source package still has them
# (docs/vsphere.md, "Tests and the simulator (vcsim)").
# Why our patch (vcsim-fetch-unset.patch): vcsim 0.24.2's PropertyCollector.Fetch panics on an unset
# property (vm.snapshot of a VM without snapshots) and drops the connection; upstream fixed it in
# govmomi v0.36 (commit fd3840e3, issue #3337). The collector itself uses RetrievePropertiesEx, which
# does not hit it, but pyVmomi attribute access (and vmware_exporter in bench/) does.
#
# Environment: WORK= build directory (default: a temp dir), KEEP_WORK=1 keeps it, FORCE=1 rebuilds.
# Output (stdout): two lines, the vcsim and govc paths. Progress goes to stderr.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$REPO/.cache/vcsim/bin}
PATCH=$HERE/vcsim-fetch-unset.patch
DEBS=(golang-go golang-github-vmware-govmomi-dev golang-github-google-uuid-dev golang-github-kr-pretty-dev
      patch xz-utils ca-certificates)

log() { printf '[tools/vcsim/build.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install ${DEBS[*]}"
  SUDO=sudo
fi

STAMP=$(cat "$0" "$PATCH" | sha256sum | cut -c1-16)

smoke_test() {  # vcsim on 127.0.0.1:0 (it picks a free port and prints GOVC_URL), then govc find
  local dir=$1 logf url sim
  logf=$(mktemp -t vcsim-smoke.XXXXXX)
  "$dir/vcsim" -l 127.0.0.1:0 -cluster 1 -host 2 -vm 2 -standalone-host 0 >"$logf" 2>&1 &
  sim=$!
  url=""
  for _ in $(seq 1 600); do  # up to 60 s: a loaded 2-core CI machine starts it slowly
    url=$(grep -o 'https://[^ ]*/sdk' "$logf" 2>/dev/null || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  if [ -z "$url" ]; then kill "$sim" 2>/dev/null || true; cat "$logf" >&2; rm -f "$logf"; return 1; fi
  # vcsim prints its URL a moment before it serves; retry govc a few times before calling it broken.
  local ok=1
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    if GOVC_URL="$url" GOVC_INSECURE=1 "$dir/govc" find / -type m 2>>"$logf" | grep -q VM; then ok=0; break; fi
    sleep 1
  done
  [ "$ok" = 0 ] || cat "$logf" >&2
  kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true; rm -f "$logf"
  return $ok
}

if [ -z "${FORCE:-}" ] && [ -x "$OUT/vcsim" ] && [ -x "$OUT/govc" ] && [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$STAMP" ]; then
  if smoke_test "$OUT"; then
    log "cached binaries OK ($OUT, stamp $STAMP)"
    echo "$OUT/vcsim"; echo "$OUT/govc"; exit 0
  fi
  log "cached binaries fail the smoke test: rebuilding"
fi

# ---- Debian binary packages (skipped when installed)
missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

WORK=${WORK:-$(mktemp -d -t vcsim-build.XXXXXX)}
cleanup() { [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT

# ---- Debian source package via a private apt configuration (deb-src twin of the machine's sources)
APTDIR=$WORK/apt
mkdir -p "$APTDIR/parts" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$WORK/srcpkg"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then   # deb822 (Debian 12 default)
  sed -e 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$APTDIR/parts/debian-src.sources"
elif [ -f /etc/apt/sources.list ]; then                  # one-line format (older or customised images)
  sed -n -e 's/^deb \(.*\)$/deb-src \1/p' /etc/apt/sources.list > "$APTDIR/parts/debian-src.list"
else
  die "no Debian apt sources found (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)"
fi
APTOPTS=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$APTDIR/parts"
         -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache"
         -o APT::Sandbox::User=root)
log "fetching Debian source package golang-github-vmware-govmomi"
apt-get "${APTOPTS[@]}" -qq update
(cd "$WORK/srcpkg" && apt-get "${APTOPTS[@]}" -qq source --download-only golang-github-vmware-govmomi >/dev/null)
ORIG=$(ls "$WORK"/srcpkg/golang-github-vmware-govmomi_*.orig.tar.* | head -1)
DEBTAR=$(ls "$WORK"/srcpkg/golang-github-vmware-govmomi_*.debian.tar.* | head -1)
log "source: $(basename "$ORIG") + $(basename "$DEBTAR")"

# ---- GOPATH overlay: the full upstream tree (with govc/ vcsim/) shadows /usr/share/gocode's govmomi
GP=$WORK/gopath
DST=$GP/src/github.com/vmware/govmomi
rm -rf "$DST"; mkdir -p "$(dirname "$DST")"
tar -xf "$ORIG" -C "$(dirname "$DST")"
mv "$(dirname "$DST")"/govmomi-* "$DST"
tar -xf "$DEBTAR" -C "$DST"
( cd "$DST"
  while read -r p; do
    case "$p" in ''|'#'*) continue;; esac
    patch -p1 -s < "debian/patches/$p"
  done < debian/patches/series
  patch -p1 -s < "$PATCH" )

# ---- build (GOPATH mode: no go.mod resolution, no network); static and stripped
export GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$GP:/usr/share/gocode" GOCACHE="$WORK/gocache" CGO_ENABLED=0
mkdir -p "$OUT"
log "go: $(go version)"
t0=$(date +%s)
go build -trimpath -ldflags "-s -w" -o "$OUT/vcsim.new" github.com/vmware/govmomi/vcsim
go build -trimpath -ldflags "-s -w" -o "$OUT/govc.new" github.com/vmware/govmomi/govc
mv -f "$OUT/vcsim.new" "$OUT/vcsim"; mv -f "$OUT/govc.new" "$OUT/govc"
log "built in $(( $(date +%s) - t0 ))s"

smoke_test "$OUT" || die "smoke test failed (vcsim did not start or govc listed no VMs)"
echo "$STAMP" > "$OUT/.stamp"
log "smoke test OK; stamp $STAMP"
echo "$OUT/vcsim"
echo "$OUT/govc"
