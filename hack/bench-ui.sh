#!/usr/bin/env bash
# Browser app figures: JS shipped (gzipped), navigation to a usable canvas, frame times while
# dragging with 50 krates and 10 moving cursors. Starts its own yard, Redis and control plane
# (YARD_E2E_CLUSTER_DIR=.yard/cluster reuses a running `make cluster`). Needs `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec npm run --silent bench:ui
