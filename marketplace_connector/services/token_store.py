# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The ``TokenStore`` an adapter's login caches its access token in, kept in
the database so every worker shares one token per backend (see
``models/marketplace_access_token.py``).

Through a connection of its own, committed at once: the token must outlive
the job that fetched it (a job that fails after logging in leaves a token
the next one uses), and other workers must see it now."""

from contextlib import closing

from odoo import sql_db

from ..fast_intake import read_committed


class DatabaseTokenStore:
    def __init__(self, env, backend_id, secret_box):
        self.dbname = env.cr.dbname
        self.backend_id = backend_id
        self.box = secret_box

    def get(self):
        """``(token, expires_at)`` or ``None``."""
        with closing(sql_db.db_connect(self.dbname).cursor()) as cr:
            cr.execute(
                "SELECT token_encrypted, expires_at FROM marketplace_access_token "
                "WHERE backend_id = %s",
                (self.backend_id,),
            )
            row = cr.fetchone()
        if not row:
            return None
        return self.box.decrypt(row[0]), row[1]

    def put(self, token, expires_at):
        # READ COMMITTED: two workers renewing at once both write, the last
        # one wins, instead of one failing to serialise
        with closing(read_committed(sql_db.db_connect(self.dbname).cursor())) as cr:
            cr.execute(
                "INSERT INTO marketplace_access_token "
                "(backend_id, token_encrypted, expires_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (backend_id) DO UPDATE SET "
                "token_encrypted = EXCLUDED.token_encrypted, "
                "expires_at = EXCLUDED.expires_at",
                (self.backend_id, self.box.encrypt(token), expires_at),
            )
            cr.commit()  # pylint: disable=invalid-commit
