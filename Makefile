# Yard: every entry point a developer or CI needs. `make help` lists them.
# Targets are thin; the work lives in hack/ and e2e/ scripts so it can be run and read on its own.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/yardhq/yard/server/version.Version=$(VERSION)
# Long enough for a cold cache (control-plane binaries are built once into ~/.cache/yard).
TEST_TIMEOUT ?= 40m

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## Install what builds and tests need (Debian packages when root, npm ci).
	@hack/deps.sh

.PHONY: build
build: deps ## Build bin/yard and the browser app (client/dist).
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/yard ./server/cmd/yard
	@if [ -f client/vite.config.ts ]; then npm run --silent build; fi

.PHONY: cluster-bins
cluster-bins: ## Build the local control-plane binaries into ~/.cache/yard (once per version).
	@e2e/scripts/build-binaries.sh

.PHONY: cluster
cluster: cluster-bins ## Start the local control plane (kubeconfig in .yard/cluster/kubeconfig).
	@e2e/scripts/cluster-up.sh

.PHONY: cluster-down
cluster-down: ## Stop the local control plane and remove its state.
	@e2e/scripts/cluster-down.sh

.PHONY: kind-up
kind-up: ## Create a kind cluster from kind-config.yaml (needs Docker).
	@e2e/scripts/kind-up.sh

.PHONY: demo
demo: deps build cluster ## Start the control plane and yard serve with dev login; prints the URL.
	@hack/demo.sh

.PHONY: test
test: deps build cluster-bins ## Run every test: Go (with -race), Node conformance, browser.
	@hack/test.sh

.PHONY: chaos
chaos: deps build cluster-bins ## Kill, stop and cut off parts of a running Yard under load (results in docs/reliability.md).
	@hack/chaos.sh

.PHONY: soak
soak: deps build cluster-bins ## One hour of 500 clients on three replicas; resources and latency must stay flat (docs/reliability.md).
	@hack/soak.sh

.PHONY: bench
bench: deps build cluster-bins ## Run the benchmarks (results go in docs/benchmarks.md).
	@hack/bench.sh

.PHONY: fuzz
fuzz: deps ## Fuzz the decoders for FUZZTIME each (default 60s) and run the long interop fuzz.
	@hack/fuzz.sh

.PHONY: lint
lint: deps ## gofmt, go vet, golangci-lint (import rules), tsc, ESLint (React hooks).
	@hack/lint.sh

.PHONY: clean
clean: ## Remove build output (not the ~/.cache/yard binaries).
	rm -rf $(BIN) client/dist
