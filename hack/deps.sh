#!/usr/bin/env bash
# Installs what Yard's build and tests need on a fresh Debian machine, or says exactly what to run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
command -v node >/dev/null || need_pkgs+=(nodejs npm)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "deps: installing ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    echo "deps: missing ${need_pkgs[*]}; run: sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
fi
command -v go >/dev/null || { echo "deps: Go 1.26 is required (https://go.dev/dl); put it on PATH" >&2; exit 1; }

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.yard-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# The pinned Go linter, built once into ~/.cache/yard/tools.
hack/golangci-lint.sh >/dev/null
