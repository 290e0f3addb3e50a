#!/bin/sh
# Once, before the first "docker compose up": a database password and an
# encryption key (README, Configuration) in docker/secrets/, or in
# $MARKETPLACE_SECRETS_DIR. Existing files are kept: a new encryption key
# would make the stored credentials unreadable. Keep a copy of the key
# outside this machine: the database backup is useless without it.
set -eu
dir=${MARKETPLACE_SECRETS_DIR:-$(dirname "$0")/secrets}
umask 077
mkdir -p "$dir"
# docker compose mounts each file as it is: readable inside the containers
# that list it (postgres and odoo run as other users); the folder keeps
# others on this machine out
chmod 0700 "$dir"
if [ ! -s "$dir/db_password" ]; then
    openssl rand -hex 24 >"$dir/db_password"
    echo "wrote $dir/db_password"
fi
if [ ! -s "$dir/encryption_key" ]; then
    # a Fernet key: 32 random bytes, urlsafe base64
    openssl rand 32 | base64 | tr '+/' '-_' >"$dir/encryption_key"
    echo "wrote $dir/encryption_key"
fi
if [ ! -s "$dir/metrics_token" ]; then
    # the bearer token Prometheus scrapes /metrics with
    openssl rand -hex 32 >"$dir/metrics_token"
    echo "wrote $dir/metrics_token"
fi
if [ ! -s "$dir/grafana_password" ]; then
    openssl rand -hex 16 >"$dir/grafana_password"
    echo "wrote $dir/grafana_password"
fi
chmod 0644 "$dir/db_password" "$dir/encryption_key" "$dir/metrics_token" \
    "$dir/grafana_password"
