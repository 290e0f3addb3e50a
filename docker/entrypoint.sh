#!/bin/bash
# The Odoo image's entrypoint: one image, one role per service.
#
#   webhook  the server behind nginx: webhooks, the web client, cron, and
#            queue_job's runner, which sends every job to the jobs server
#   jobs     the jobs server: runs what the runner sends it on its HTTP
#            port; no runner of its own, no cron, at a lower CPU priority
#   init     creates the database with our addons when it is not there
#            yet, then exits (the servers start after it)
#   upgrade  -u marketplace_connector,marketplace_shopify,marketplace_amazon (after a new
#            image: the migrations run), then exits
#   anything else runs as a command (e.g. "odoo shell -c /run/odoo/odoo.conf")
#
# Secrets come from the environment or from files (docker secrets):
# DB_PASSWORD or DB_PASSWORD_FILE, MARKETPLACE_ENCRYPTION_KEY or
# MARKETPLACE_ENCRYPTION_KEY_FILE, and so on for any MARKETPLACE_* variable.
# None is in the image; the database password is written to a config file
# readable by the odoo user only, never put on a command line.
set -euo pipefail

die() {
    echo "ERROR: $*" >&2
    exit 2
}

# VAR_FILE -> VAR (exported; the _FILE variable is removed)
file_env() {
    local var=$1 file_var="${1}_FILE"
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        die "both $var and $file_var are set: one or the other"
    fi
    if [ -n "${!file_var:-}" ]; then
        [ -r "${!file_var}" ] || die "$file_var: cannot read ${!file_var}"
        export "$var"="$(<"${!file_var}")"
    fi
    unset "$file_var"
}

file_env DB_PASSWORD
for file_var in $(compgen -e | grep -E '^MARKETPLACE_[A-Z0-9_]+_FILE$' || true); do
    file_env "${file_var%_FILE}"
done

: "${DB_HOST:=db}"
: "${DB_PORT:=5432}"
: "${DB_USER:=odoo}"
: "${ODOO_DB:=marketplace}"
: "${ODOO_JOBS_HOST:=jobs}"
: "${ODOO_JOBS_PORT:=8069}"
: "${ODOO_WORKERS:=3}"
: "${ODOO_JOB_WORKERS:=5}"
: "${ODOO_CRON_THREADS:=1}"
: "${ODOO_JOBS_NICE:=10}"
export DB_HOST DB_PORT DB_USER ODOO_DB
: "${MARKETPLACE_JOB_CHANNELS:=root:4,root.marketplace.inbound:2,root.marketplace.stock:1,root.marketplace.poll:1,root.marketplace.pull:1}"
MODULES=marketplace_connector,marketplace_shopify,marketplace_amazon
BASE_CONFIG=${MARKETPLACE_BASE_CONFIG:-/etc/odoo/odoo.conf}
CONFIG=${MARKETPLACE_RUNTIME_CONFIG:-/run/odoo/odoo.conf}

# queue_job reads its settings from ODOO_QUEUE_JOB_* before its config
# section: a channels variable meant for the runner would start a runner in
# the jobs server too. The roles below write [queue_job]; nothing overrides.
for var in $(compgen -e | grep -E '^ODOO_QUEUE_JOB_' || true); do
    unset "$var"
done

write_config() {
    local role=$1
    [ -n "${DB_PASSWORD:-}" ] || die "DB_PASSWORD (or DB_PASSWORD_FILE) is required"
    umask 077
    mkdir -p "$(dirname "$CONFIG")"
    {
        cat "$BASE_CONFIG"
        echo
        echo "; written by the entrypoint for the role '$role'"
        echo "db_host = $DB_HOST"
        echo "db_port = $DB_PORT"
        echo "db_user = $DB_USER"
        echo "db_password = $DB_PASSWORD"
        echo "db_name = $ODOO_DB"
        echo "dbfilter = ^${ODOO_DB}\$"
        case $role in
            webhook)
                echo "workers = $ODOO_WORKERS"
                echo "max_cron_threads = $ODOO_CRON_THREADS"
                # behind nginx, which sets X-Forwarded-* itself
                echo "proxy_mode = True"
                echo
                echo "[queue_job]"
                echo "channels = $MARKETPLACE_JOB_CHANNELS"
                echo "scheme = http"
                echo "host = $ODOO_JOBS_HOST"
                echo "port = $ODOO_JOBS_PORT"
                ;;
            jobs)
                echo "workers = $ODOO_JOB_WORKERS"
                echo "max_cron_threads = 0"
                # only the runner calls it, directly: no forwarded headers
                echo "proxy_mode = False"
                echo
                echo "[queue_job]"
                echo "channels = root:0"
                ;;
            *)
                echo "workers = 0"
                echo "max_cron_threads = 0"
                echo
                echo "[queue_job]"
                echo "channels = root:0"
                ;;
        esac
    } >"$CONFIG"
    # "odoo shell" and friends, without -c, read this one
    export ODOO_RC=$CONFIG
}

# "ready": our addons are installed; "missing": no database, or one without
# them (a first start that stopped half-way). Waits for PostgreSQL.
database_state() {
    python3 - <<'PY'
import os
import sys
import time

import psycopg2

params = dict(
    host=os.environ["DB_HOST"],
    port=os.environ["DB_PORT"],
    user=os.environ["DB_USER"],
    password=os.environ["DB_PASSWORD"],
    connect_timeout=5,
)
deadline = time.monotonic() + 60
while True:
    try:
        conn = psycopg2.connect(dbname="postgres", **params)
        break
    except psycopg2.OperationalError as err:
        if time.monotonic() > deadline:
            sys.exit(f"PostgreSQL does not answer: {err}")
        time.sleep(1)
with conn, conn.cursor() as cr:
    cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (os.environ["ODOO_DB"],))
    exists = cr.fetchone()
conn.close()
state = "missing"
if exists:
    conn = psycopg2.connect(dbname=os.environ["ODOO_DB"], **params)
    with conn, conn.cursor() as cr:
        cr.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
        if cr.fetchone()[0]:
            cr.execute(
                "SELECT count(*) FROM ir_module_module "
                "WHERE name IN ('marketplace_connector', 'marketplace_shopify', "
                "'marketplace_amazon') "
                "AND state = 'installed'"
            )
            if cr.fetchone()[0] == 3:
                state = "ready"
    conn.close()
print(state)
PY
}

require_key() {
    [ -n "${MARKETPLACE_ENCRYPTION_KEY:-}" ] ||
        die "MARKETPLACE_ENCRYPTION_KEY (or MARKETPLACE_ENCRYPTION_KEY_FILE) is required"
}

role=${1:-webhook}
case $role in
    webhook)
        require_key
        write_config webhook
        exec odoo -c "$CONFIG"
        ;;
    jobs)
        require_key
        write_config jobs
        # Niceness orders processes of one container; between containers
        # the kernel shares CPU by their cgroups' weights: docker-compose.yml
        # gives this service cpu_shares 110 (about what nice 10 weighs).
        exec nice -n "$ODOO_JOBS_NICE" odoo -c "$CONFIG"
        ;;
    init)
        require_key
        write_config init
        state=$(database_state)
        if [ "$state" = ready ]; then
            echo "Database $ODOO_DB is ready: nothing to do (upgrades: the 'upgrade' role)."
            exit 0
        fi
        echo "Database $ODOO_DB: installing $MODULES (first start)."
        exec odoo -c "$CONFIG" -d "$ODOO_DB" -i "$MODULES" --stop-after-init
        ;;
    upgrade)
        require_key
        write_config upgrade
        exec odoo -c "$CONFIG" -d "$ODOO_DB" -u "$MODULES" --stop-after-init
        ;;
    *)
        write_config command
        exec "$@"
        ;;
esac
