"""The schema migration, run by the stack's `migrate` job before the backend starts.

Idempotent: running it again, after a new backend image, changes nothing that exists.
"""
from db import connection

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id serial PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""

with connection() as conn, conn.cursor() as cursor:
    cursor.execute(SCHEMA)
print("migrate: table items is in place")
