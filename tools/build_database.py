"""Build an Odoo database with our addons, fast: once per run, not per test.

Installing sale_stock + queue_job takes about two minutes here, so that part
is built once into a template database named after what it contains (Odoo's
version and the queue_job version) and reused; each run copies the template
(``CREATE DATABASE ... TEMPLATE``, plus its filestore) and installs only our
addons into the copy.
"""

import argparse
import configparser
import hashlib
import os
import shutil
import subprocess
import sys
from importlib import metadata

import psycopg2
from psycopg2 import sql

BASE_MODULES = "sale_stock,stock_delivery,queue_job"


def odoo_command(config, *args):
    server = os.path.join(os.path.dirname(os.path.abspath(__file__)), "odoo_server.py")
    return [sys.executable, server, "-c", config, *args]


def connect(options):
    conn = psycopg2.connect(
        dbname="postgres",
        host=options["db_host"],
        port=options["db_port"],
        user=options["db_user"],
    )
    conn.autocommit = True
    return conn


def database_exists(conn, name):
    with conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return bool(cr.fetchone())


def drop_database(conn, name):
    with conn.cursor() as cr:
        cr.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cr.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def filestore(options, name):
    return os.path.join(options["data_dir"], "filestore", name)


def template_name():
    import odoo.release

    fingerprint = "|".join(
        [
            odoo.release.version,
            metadata.version("odoo-addon-queue_job"),
            BASE_MODULES,
        ]
    )
    return "mkt_template_" + hashlib.sha1(fingerprint.encode()).hexdigest()[:10]


def install(config, database, modules, log):
    with open(log, "w") as out:
        result = subprocess.run(
            odoo_command(
                config,
                "-d",
                database,
                "-i",
                modules,
                "--without-demo=all",
                "--stop-after-init",
                "--log-level=warn",
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode:
        sys.stderr.write(open(log).read()[-5000:])
        raise SystemExit(f"installing {modules} into {database} failed (log: {log})")
    text = open(log).read()
    if " ERROR " in text or "CRITICAL" in text:
        sys.stderr.write(text[-5000:])
        raise SystemExit(f"installing {modules} logged errors (log: {log})")


def check_installed(conn_options, database, modules):
    conn = psycopg2.connect(
        dbname=database,
        host=conn_options["db_host"],
        port=conn_options["db_port"],
        user=conn_options["db_user"],
    )
    with conn, conn.cursor() as cr:
        cr.execute(
            "SELECT name FROM ir_module_module "
            "WHERE name = ANY(%s) AND state = 'installed'",
            (modules,),
        )
        installed = {row[0] for row in cr.fetchall()}
    conn.close()
    missing = set(modules) - installed
    if missing:
        raise SystemExit(f"not installed in {database}: {', '.join(sorted(missing))}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--modules", required=True)
    parser.add_argument(
        "--keep", action="store_true", help="reuse an existing database"
    )
    args = parser.parse_args()

    parser_ = configparser.ConfigParser()
    parser_.read(args.config)
    options = dict(parser_["options"])
    log_dir = os.path.dirname(os.path.abspath(args.config))
    conn = connect(options)

    if args.keep and database_exists(conn, args.database):
        print(f"reusing {args.database}")
        return

    template = template_name()
    if not database_exists(conn, template):
        print(f"building template {template} ({BASE_MODULES}), once")
        building = template + "_building"
        drop_database(conn, building)
        shutil.rmtree(filestore(options, building), ignore_errors=True)
        install(
            args.config, building, BASE_MODULES, os.path.join(log_dir, "template.log")
        )
        check_installed(options, building, BASE_MODULES.split(","))
        with conn.cursor() as cr:
            cr.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(building), sql.Identifier(template)
                )
            )
        if os.path.isdir(filestore(options, building)):
            os.rename(filestore(options, building), filestore(options, template))

    drop_database(conn, args.database)
    shutil.rmtree(filestore(options, args.database), ignore_errors=True)
    with conn.cursor() as cr:
        cr.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(args.database), sql.Identifier(template)
            )
        )
    if os.path.isdir(filestore(options, template)):
        shutil.copytree(filestore(options, template), filestore(options, args.database))
    conn.close()
    modules = args.modules
    install(args.config, args.database, modules, os.path.join(log_dir, "install.log"))
    check_installed(options, args.database, modules.split(","))
    print(f"{args.database} ready with {modules}")


if __name__ == "__main__":
    main()
