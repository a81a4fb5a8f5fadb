#!/usr/bin/env bash
# Makes sure the pinned Node.js (hack/versions.env) is available and prints
# the directory that holds its `node` binary on stdout (last line).
#
# The machine's own node is used when it is the pinned major version;
# otherwise the binary is taken from the npm registry's node-<os>-<arch>
# package (the same binary nodejs.org ships) and cached outside the clone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
log() { printf '[ensure-node] %s\n' "$*" >&2; }

want_major="${NODE_VERSION%%.*}"
if command -v node >/dev/null; then
  have="$(node --version)"; have="${have#v}"
  if [[ "${have%%.*}" == "$want_major" ]]; then
    dirname "$(command -v node)"
    exit 0
  fi
fi

cache_root="${BTPCERTS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/btp-cert-operator}"
dir="$cache_root/node-v$NODE_VERSION"
if [[ -x "$dir/bin/node" ]]; then
  echo "$dir/bin"
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) log "unsupported machine: $(uname -m)"; exit 1 ;;
esac
os="$(uname -s | tr '[:upper:]' '[:lower:]')"
pkg="node-$os-$arch@$NODE_VERSION"
command -v npm >/dev/null || { log "npm is needed once to fetch $pkg"; exit 1; }

log "installing Node.js $NODE_VERSION from the npm package $pkg"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/btpcerts-node.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
tar -xzf "$tmp"/node-*.tgz -C "$tmp"
"$tmp/package/bin/node" --version >/dev/null
mkdir -p "$cache_root"
rm -rf "$dir.partial" && mv "$tmp/package" "$dir.partial" && mv "$dir.partial" "$dir"
log "installed: $("$dir/bin/node" --version) in $dir"
echo "$dir/bin"
