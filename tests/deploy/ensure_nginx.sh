#!/usr/bin/env bash
# Make sure Debian's nginx is installed (the proxy test and
# bench/slow-clients run it as a process of their own, never as a service).
# Usage: tests/deploy/ensure_nginx.sh LOG_FILE
set -euo pipefail
log=${1:-/dev/null}
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ERROR: nginx is not installed and apt-get is missing." >&2
    exit 2
fi
echo "nginx is not installed: installing it (apt-get)." >&2
if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx) >"$log" 2>&1; then
    echo "ERROR: could not install nginx (see $log)" >&2
    exit 2
fi
