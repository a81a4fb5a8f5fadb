#!/usr/bin/env bash
# The full test suite, from a fresh machine: brings the pinned Node.js, the npm
# dependencies and the Kubernetes control-plane binaries, then runs the static
# checks and every test project. Extra arguments go to vitest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=env.sh
source hack/env.sh

step() { printf '\n== %s\n' "$*"; }
started=$SECONDS

step "Node.js $(node --version), npm $(npm --version)"
step "control-plane binaries"
BTPCERTS_KUBE_BIN_DIR="$(bash hack/build-control-plane.sh)"
export BTPCERTS_KUBE_BIN_DIR
"$BTPCERTS_KUBE_BIN_DIR/kube-apiserver" --version

step "lint (biome)"
npx biome check .
step "typecheck (tsc --noEmit)"
npx tsc --noEmit
step "CRDs match the API types"
node hack/generate-crds.ts --check
step "build (what the container image runs)"
npm run --silent build
usage="$(node dist/start.js --help 2>&1 || true)"
grep -q -- '--kubeconfig' <<<"$usage" || { echo "$usage"; echo "dist/start.js does not start"; exit 1; }

step "tests (vitest)"
mkdir -p .tmp
report=.tmp/vitest-report.json
rm -f "$report"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
printf '\n== done in %ss\n' "$((SECONDS - started))"
# One plain closing line that any CI reader understands.
if [[ -f "$report" ]]; then
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  ' "$report"
fi
exit "$status"
