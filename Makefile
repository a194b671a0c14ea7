# The verbs a person types. `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KUBECONFIG_LOCAL := $(CURDIR)/.cluster/kubeconfig
# `make test` runs on clusters of its own: never on the local cluster `make demo-sim` left
# running with its operator (that operator would reconcile the tests' Apps too), never on the
# kind cluster of `make demo`. TEST_KUBECONFIG=FILE runs the tests on another cluster instead.
TEST_CLUSTER := CLUSTER_NAME=app-operator-test CLUSTER_STATE=$(CURDIR)/.cluster-test
TEST_KUBECONFIG_LOCAL := $(CURDIR)/.cluster-test/kubeconfig
CLUSTER_BIN = $(shell bash -c 'source hack/cluster/versions.sh && echo $$CLUSTER_CACHE/bin')
export PATH := $(CLUSTER_BIN):$(PATH)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m app_operator.convert.compose_schema
	@touch $@

# checkov has dependencies of its own: it lives in a virtual environment of its own.
CHECKOV_VERSION := 3.3.30
.venv-checkov/.installed:
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@touch $@

.PHONY: venv
venv: $(VENV)/.installed .venv-checkov/.installed ## create .venv (operator, test tools) and .venv-checkov

.PHONY: cluster-up cluster-down cluster-status
cluster-up: ## start the local cluster (builds its binaries on first use)
	@hack/cluster/up.sh >/dev/null
	@echo "cluster ready: export KUBECONFIG=$(KUBECONFIG_LOCAL)"
cluster-down: ## stop and delete the local clusters, the demo's and the tests' (the built binaries stay cached)
	@hack/stop-operator.sh
	@hack/cluster/down.sh
	@$(TEST_CLUSTER) hack/cluster/down.sh
cluster-status: ## show whether the local cluster runs, and what it runs
	@hack/cluster/status.sh

.PHONY: crds
crds: venv ## regenerate crds/ from the model
	$(PY) -m app_operator.core.crd > crds/apps.appoperator.dev.yaml

.PHONY: lint
lint: venv ## ruff and mypy
	$(VENV)/bin/ruff check operator tests
	$(VENV)/bin/mypy

.PHONY: test test-unit
test-unit: venv ## unit tests only (no cluster)
	$(VENV)/bin/pytest tests/unit
test: venv $(VENV)/.bench ## everything: lint, the local cluster, all test tiers (the benchmark's quick run too)
	$(MAKE) --no-print-directory lint
	@if [ -z "$$TEST_KUBECONFIG" ]; then $(TEST_CLUSTER) hack/cluster/up.sh >/dev/null; fi
	$(TEST_CLUSTER) KUBECONFIG=$${TEST_KUBECONFIG:-$(TEST_KUBECONFIG_LOCAL)} $(VENV)/bin/pytest tests --ignore=tests/kind
	$(MAKE) --no-print-directory kind-test

.PHONY: mutation
$(VENV)/.mutation: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[mutation]'
	@touch $@
mutation: $(VENV)/.mutation ## mutation testing of the pure core: the score and every surviving mutant (not in `test`: it takes long)
	$(PY) tests/mutation/run.py

.PHONY: bench bench-quick bench-large
$(VENV)/.bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[bench]'
	@touch $@
bench: $(VENV)/.bench ## benchmark N = 100 and 1,000 Apps on the local cluster, three pairs each (results in bench/results/)
	$(PY) bench/run.py 100 1000 --repeat 3
bench-quick: $(VENV)/.bench ## benchmark N = 100 only
	$(PY) bench/run.py 100 --name quick-$$(date -u +%Y-%m-%d)
bench-large: $(VENV)/.bench ## benchmark N = 5,000 (long: T_contract and T_op three times each, about an hour and a half)
	$(PY) bench/run.py 5000 --repeat 3 --skip nopods --name large-$$(date -u +%Y-%m-%d)

.PHONY: images kind-image kind-up kind-load deploy kind-gateway kind-e2e kind-down kind-test
images: ## build app-operator:dev, pylounge_flask_app:v1 and app-operator/postgres:15 (starts dockerd, makes base images if needed)
	@hack/images/build.sh
kind-image: ## build the local kind node image (Go modules, Debian packages; cached, see docs/kind.md)
	@hack/kind.sh node-image
kind-up: ## create the kind cluster of kind-config.yaml (public node image, or the local one offline)
	@hack/kind.sh up
kind-load: ## load both images into the kind cluster
	@hack/kind.sh load
deploy: ## kubectl apply -k manifests into the kind cluster, wait for the operator's rollout
	@hack/kind.sh deploy
kind-gateway: ## Gateway API CRDs, Traefik (built here) and the Gateway app-operator in the kind cluster (docs/kind.md)
	@hack/kind.sh gateway
kind-e2e: images ## kind cluster, images loaded, operator and gateway deployed, Flask App Ready, curl localhost:8080
	@hack/kind.sh e2e
kind-down: ## delete the kind cluster
	@hack/kind.sh down
kind-test: venv images ## the kind tier: kind cluster, operator deployed, pytest tests/kind (real pods)
	@PYTEST=$(VENV)/bin/pytest hack/kind.sh test

.PHONY: install-crd run demo demo-sim stop
install-crd: cluster-up venv ## apply the CRD to the local cluster
	KUBECONFIG=$(KUBECONFIG_LOCAL) kubectl apply --server-side -f crds/
	@# kubectl wait fails at once while the new CRD has no conditions yet: ask again.
	@for i in $$(seq 60); do KUBECONFIG=$(KUBECONFIG_LOCAL) kubectl wait --for=condition=Established crd/apps.appoperator.dev --timeout=60s 2>/dev/null && exit 0; sleep 1; done; echo "the App CRD is not Established after 60 s" >&2; exit 1
run: install-crd ## run the operator in the foreground against the local cluster (stops demo-sim's first)
	@hack/stop-operator.sh
	KUBECONFIG=$(KUBECONFIG_LOCAL) $(VENV)/bin/app-operator run
demo: ## the Flask example App with real pods in kind: images, cluster, operator, curl localhost:8080 (needs Docker)
	@hack/demo.sh
demo-sim: install-crd ## without Docker: the local cluster (simulated pods), the operator as a process, the Flask App Ready
	@KUBECONFIG=$(KUBECONFIG_LOCAL) hack/demo-sim.sh
stop: ## end the demos: stop demo-sim's operator, delete demo's kind cluster
	@hack/demo-stop.sh

# Releases (docs/install.md): the bundle in dist/ and the Helm chart in charts/app-operator.
.PHONY: release helm helm-lint
release: ## dist/ for VERSION (pyproject.toml's) and IMAGE: crds.yaml, install.yaml, the chart; builds IMAGE:VERSION (SKIP_IMAGE=1: no image)
	@VERSION="$(VERSION)" IMAGE="$(IMAGE)" SKIP_IMAGE="$(SKIP_IMAGE)" hack/release.sh
helm: ## build helm from its Go module (cached in ~/.cache/app-operator/helm-VERSION/); prints its path
	@hack/helm/build.sh | tail -n 1
helm-lint: ## helm lint of charts/app-operator
	@"$$(hack/helm/build.sh | tail -n 1)" lint --strict charts/app-operator
