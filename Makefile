# The two commands a newcomer needs are `make demo` and `make test`; the rest
# are conveniences. Every target brings what it needs (Node.js, npm packages,
# Kubernetes binaries) on a fresh machine.
.PHONY: demo test control-plane simulator bench build crds

demo: ## control plane + BTP simulator + operator, locally
	bash hack/demo.sh

test: ## lint, typecheck, CRD drift check, unit and integration tests
	bash hack/test.sh

control-plane: ## a local kube-apiserver for kubectl, until Ctrl-C
	bash -c 'source hack/env.sh && export BTPCERTS_KUBE_BIN_DIR="$$(bash hack/build-control-plane.sh)" && npm run control-plane'

simulator: ## the BTP simulator alone, until Ctrl-C
	bash -c 'source hack/env.sh && npm run simulator'

bench: ## benchmarks (reported, never asserted)
	bash -c 'source hack/env.sh && npm run bench:simulator && npm run bench:token-checks'

build: ## compile to dist/ (what the container image runs)
	bash -c 'source hack/env.sh && npm run build'

crds: ## regenerate crds/ from the API schema in src/api
	bash -c 'source hack/env.sh && node hack/generate-crds.ts'
