#!/usr/bin/env python3
"""Start Odoo as odoo-bin does, from whichever Odoo 18.0 ``python3`` imports.

Used by the demo, the benchmarks and the database builder. It must be a file:
Odoo's prefork server starts its gevent (websocket) process by running
``sys.executable sys.argv[0] gevent ...``.
"""

import os

os.environ["TZ"] = "UTC"

import odoo.cli  # after TZ, as odoo-bin does

if __name__ == "__main__":
    odoo.cli.main()
