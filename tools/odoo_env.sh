# Shared by the test, demo and benchmark commands (source it, do not run it).
# Finds Odoo, makes sure PostgreSQL answers, and writes an Odoo config file.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR_DIR="${MARKETPLACE_VAR_DIR:-$REPO_ROOT/var}"
# outside the checkout: the cached template database's filestore is shared
# by every checkout on this machine, like the template itself
DATA_DIR="${MARKETPLACE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/marketplace-connector}"
PYTHON="${PYTHON:-python3}"
export TZ=UTC
export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-5432}"
export PGUSER="${PGUSER:-$(id -un)}"
mkdir -p "$VAR_DIR"

die() {
    echo "ERROR: $*" >&2
    exit 2
}

require_odoo() {
    local version
    if ! version=$("$PYTHON" -c 'import odoo.release as r; print(r.serie)' 2>/dev/null); then
        die "Odoo 18.0 is not importable by '$PYTHON'. Prerequisite: install Odoo 18.0
Community into this interpreter (e.g. 'pip install -e <odoo-18.0 checkout>
--config-settings editable_mode=compat' after its requirements.txt), or set
PYTHON=/path/to/python that has it. See README.md, 'Prerequisites'."
    fi
    [ "$version" = "18.0" ] || die "Odoo $version found, 18.0 required (PYTHON=$PYTHON)."
    # multi-worker Odoo (the benchmarks, the flash-sale correctness test)
    # starts a gevent process; if gevent's plugins cannot load, it dies and
    # is respawned every second, eating a core while everything else runs
    if ! "$PYTHON" -c 'import pkg_resources
for ep in pkg_resources.iter_entry_points("gevent.plugins.monkey.will_patch_all"):
    ep.load()' >/dev/null 2>&1; then
        die "gevent's plugins do not load in '$PYTHON' (pkg_resources cannot find
zope.interface or zope.event: with setuptools < 70, wheels whose metadata uses
the normalised name 'zope_interface-*.dist-info' are not found). Prerequisite:
'pip install \"zope.interface==5.5.2\" \"zope.event==4.6\"' or a newer setuptools."
    fi
}

install_python_requirements() {
    # quiet when everything is already there
    if ! "$PYTHON" -m pip install -q --disable-pip-version-check \
        -r "$REPO_ROOT/requirements-test.txt" >"$VAR_DIR/pip.log" 2>&1; then
        cat "$VAR_DIR/pip.log" >&2
        die "could not install the Python requirements (requirements-test.txt)"
    fi
}

postgres_ready() {
    pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null
}

ensure_postgres() {
    postgres_ready && return 0
    echo "PostgreSQL does not answer on $PGHOST:$PGPORT: starting one." >&2
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is missing."
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
            >"$VAR_DIR/apt-postgresql.log" 2>&1 || die "could not install PostgreSQL (see $VAR_DIR/apt-postgresql.log)"
    fi
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$version" ]; then
        version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
        pg_createcluster "$version" main -p "$PGPORT" >/dev/null
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do
        postgres_ready && break
        sleep 1
    done
    postgres_ready || die "PostgreSQL $version did not start on $PGHOST:$PGPORT"
    # local trust for this machine's tests and demo, and a role for us
    if ! psql -d postgres -Atc "select 1" >/dev/null 2>&1; then
        su postgres -c "psql -q -c \"CREATE ROLE \\\"$PGUSER\\\" SUPERUSER LOGIN\"" 2>/dev/null || true
    fi
}

# Odoo's browser tests (HttpCase.start_tour) need a headless Chrome or
# Chromium; Odoo looks for these names on the PATH. Debian's package
# otherwise, as for PostgreSQL.
ensure_chromium() {
    local name
    for name in google-chrome chromium chromium-browser google-chrome-stable; do
        command -v "$name" >/dev/null 2>&1 && return 0
    done
    echo "No Chrome or Chromium for the browser tests: installing chromium." >&2
    command -v apt-get >/dev/null 2>&1 || die "Chromium is not installed and apt-get is missing: install Chrome or Chromium for the browser tests (tours)."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
        >"$VAR_DIR/apt-chromium.log" 2>&1 || die "could not install Chromium (see $VAR_DIR/apt-chromium.log)"
    command -v chromium >/dev/null 2>&1 || die "Chromium installed but not on the PATH (see $VAR_DIR/apt-chromium.log)"
}

addons_path() {
    "$PYTHON" - "$REPO_ROOT" <<'PY'
import os, sys
import odoo, odoo.addons
root = os.path.dirname(odoo.__file__)
paths = [os.path.join(os.path.dirname(root), "addons"), os.path.join(root, "addons")]
paths += list(odoo.addons.__path__)
paths.append(sys.argv[1])
if os.environ.get("MARKETPLACE_TEST_ADDONS"):
    # addons that only the tests install (the core's test channel)
    paths.append(os.path.join(sys.argv[1], "tests", "addons"))
seen = []
for p in paths:
    p = os.path.realpath(p)
    if os.path.isdir(p) and p not in seen:
        seen.append(p)
print(",".join(seen))
PY
}

# write_odoo_config FILE DBNAME [extra "key = value" lines...]
write_odoo_config() {
    local file=$1 db=$2
    shift 2
    local key_file="$VAR_DIR/encryption.key"
    [ -s "$key_file" ] || "$PYTHON" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' >"$key_file"
    {
        echo "[options]"
        echo "addons_path = $(addons_path)"
        echo "data_dir = $DATA_DIR"
        echo "db_host = $PGHOST"
        echo "db_port = $PGPORT"
        echo "db_user = $PGUSER"
        echo "db_name = $db"
        echo "dbfilter = ^$db\$"
        echo "list_db = False"
        echo "marketplace_encryption_key = $(cat "$key_file")"
        for line in "$@"; do echo "$line"; done
    } >"$file"
}
