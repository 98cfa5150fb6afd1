#!/usr/bin/env bash
# Stops every process of the local control plane, by pid, and removes its state (.yard/cluster).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .yard/bin
go build -o .yard/bin/localcluster ./e2e/cmd/localcluster
exec .yard/bin/localcluster down -dir .yard/cluster "$@"
