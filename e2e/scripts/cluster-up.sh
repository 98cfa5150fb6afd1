#!/usr/bin/env bash
# Starts the local control plane in the background (state and kubeconfig in .yard/cluster/).
# A second run while one is up says so. `make cluster-down` stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .yard/bin
go build -o .yard/bin/localcluster ./e2e/cmd/localcluster
exec .yard/bin/localcluster up -dir .yard/cluster "$@"
