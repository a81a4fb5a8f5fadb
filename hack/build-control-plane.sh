#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kubectl and etcd from the
# published Go modules and caches them outside the clone.
#
# Output: prints the bin directory on stdout (the last line). Everything else
# goes to stderr.
#
# Why a tools module: k8s.io/kubernetes's go.mod requires its staging modules
# at v0.0.0 and replaces them with ./staging paths, so `go install
# k8s.io/kubernetes/cmd/...@vX` fails. Our module requires k8s.io/kubernetes
# and replaces every staging module with its published v0.Y.Z tag instead.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${BTPCERTS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/btp-cert-operator}"
bin_dir="$cache_root/kubernetes-$KUBERNETES_VERSION/bin"
stamp="$bin_dir/.complete"
binaries=(kube-apiserver kube-controller-manager kubectl etcd)

log() { printf '[build-control-plane] %s\n' "$*" >&2; }

if [[ -f "$stamp" ]]; then
  missing=0
  for b in "${binaries[@]}"; do [[ -x "$bin_dir/$b" ]] || missing=1; done
  if [[ $missing -eq 0 ]]; then
    log "cached: $bin_dir ($KUBERNETES_VERSION)"
    echo "$bin_dir"
    exit 0
  fi
fi

command -v go >/dev/null || { log "go is not installed; it is needed to build the control plane"; exit 1; }
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
staging_version="v0.${KUBERNETES_VERSION#v1.}"

work="$(mktemp -d "${TMPDIR:-/tmp}/btpcerts-k8s-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "building Kubernetes $KUBERNETES_VERSION in $work (cold builds take several minutes)"

# The exact list of staging modules comes from that version's own go.mod.
modfile="$(cd "$work" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
  | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
[[ -f "$modfile" ]] || { log "could not download k8s.io/kubernetes@$KUBERNETES_VERSION"; exit 1; }
mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$modfile")
[[ ${#staging[@]} -gt 20 ]] || { log "found only ${#staging[@]} staging modules in $modfile"; exit 1; }
go_directive="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$modfile")"

{
  echo "module btpcerts.io/controlplane-tools"
  echo
  echo "go $go_directive"
  echo
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do echo "	$m => $m $staging_version"; done
  echo ")"
} >"$work/go.mod"

mkdir -p "$work/etcd"
cat >"$work/etcd/main.go" <<'GO'
// etcd, at the version Kubernetes itself pins.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO

cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO

# tidy resolves etcd (and everything else) to the versions k8s.io/kubernetes
# itself requires; no `go get`, which would upgrade them past what it pins.
(cd "$work" && go mod tidy >&2)
grep -E 'go.etcd.io/etcd/server/v3 ' "$work/go.mod" >&2 || true

ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"

out="$work/out"
mkdir -p "$out"
for cmd in kube-apiserver kube-controller-manager kubectl; do
  log "go build $cmd"
  (cd "$work" && go build -trimpath -ldflags "$ldflags" -o "$out/$cmd" "k8s.io/kubernetes/cmd/$cmd")
done
log "go build etcd"
(cd "$work" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" ./etcd)

"$out/kube-apiserver" --version >&2
"$out/etcd" --version | head -1 >&2

mkdir -p "$bin_dir"
for b in "${binaries[@]}"; do mv -f "$out/$b" "$bin_dir/$b"; done
cp "$work/go.mod" "$bin_dir/go.mod.used"
touch "$stamp"
log "done: $bin_dir"
echo "$bin_dir"
