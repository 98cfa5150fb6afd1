#!/usr/bin/env bash
# Creates the kind cluster described by kind-config.yaml (needs a running Docker engine and kind).
# Without Docker use `make cluster`, the local control plane, instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v docker >/dev/null 2>&1; then
  echo "kind-up: docker is not installed; kind needs a Docker engine. Use 'make cluster' (no Docker needed)." >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "kind-up: no Docker engine answers ('docker info' failed); kind needs one. Use 'make cluster' (no Docker needed)." >&2
  exit 1
fi
if ! command -v kind >/dev/null 2>&1; then
  echo "kind-up: kind is not installed: go install sigs.k8s.io/kind@v0.30.0" >&2
  exit 1
fi
name=yard
if kind get clusters 2>/dev/null | grep -qx "$name"; then
  echo "kind-up: cluster '$name' already exists (context kind-$name)"
  exit 0
fi
kind create cluster --name "$name" --config kind-config.yaml
echo "kind-up: ready; run: bin/yard serve --dev-auth --kubeconfig ~/.kube/config --context kind-$name"
