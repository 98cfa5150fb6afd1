#!/usr/bin/env bash
# Runs Yard against the local control plane with dev login, on the in-memory backend.
# `make demo` builds everything and starts the control plane first.
set -euo pipefail
cd "$(dirname "$0")/.."
listen="${YARD_LISTEN:-127.0.0.1:8080}"
kubeconfig="${YARD_KUBECONFIG:-$PWD/.yard/cluster/kubeconfig}"
url="http://$listen"

cat <<MSG

  Yard demo
  ---------
  URL:        $url
  Demo room:  $url/r/demo   (open it in two browsers as two users; Ctrl+K finds resources)
  Sign in:    dev login with any name. The local cluster knows
                alice (cluster-admin), bob (edit + exec in team-a), carol (view in demo);
              group yard-admins makes an admin.
  API token:  curl -s -XPOST $url/api/auth/dev-login -H 'Content-Type: application/json' -d '{"name":"alice"}'
  Cluster:    KUBECONFIG=$kubeconfig kubectl get pods -A
  Stop:       Ctrl-C (the control plane keeps running; make cluster-down stops it)

MSG
exec bin/yard serve --dev-auth --listen "$listen" --kubeconfig "$kubeconfig"
