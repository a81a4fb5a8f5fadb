# Sourced by the project's scripts: puts the pinned Node.js first on PATH and
# installs the npm dependencies when the lockfile changed. Prints nothing on
# stdout.
# shellcheck shell=bash
_btpcerts_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_btpcerts_node_bin="$(bash "$_btpcerts_root/hack/ensure-node.sh")"
export PATH="$_btpcerts_node_bin:$PATH"

_btpcerts_stamp="$_btpcerts_root/node_modules/.package-lock.json"
if [[ ! -f "$_btpcerts_stamp" || "$_btpcerts_root/package-lock.json" -nt "$_btpcerts_stamp" ]]; then
  echo "[env] npm ci (node $(node --version))" >&2
  (cd "$_btpcerts_root" && npm ci --no-audit --no-fund >&2)
fi
unset _btpcerts_node_bin _btpcerts_stamp
