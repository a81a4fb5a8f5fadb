#!/usr/bin/env bash
# `make demo`: brings Node.js, the npm packages and the control-plane binaries, then runs
# hack/demo.ts (control plane + BTP simulator + operator). Arguments go to hack/demo.ts (--once).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=env.sh
source hack/env.sh
BTPCERTS_KUBE_BIN_DIR="$(bash hack/build-control-plane.sh)"
export BTPCERTS_KUBE_BIN_DIR
exec node hack/demo.ts "$@"
