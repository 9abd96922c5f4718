"""The connection to Postgres, shared by the API and the migration.

DATABASE_URL names the server, database and user; the password arrives as a
file (DATABASE_PASSWORD_FILE, a mounted secret), never in the environment.
"""
import contextlib
import os

import psycopg2


def read_secret(variable: str) -> str:
    with open(os.environ[variable], encoding="utf-8") as file:
        return file.read().strip()


@contextlib.contextmanager
def connection():
    """A connection for one unit of work: committed when it ends well, then closed.

    A connection per request keeps the backend indifferent to a database restart.
    """
    conn = psycopg2.connect(
        os.environ["DATABASE_URL"],
        password=read_secret("DATABASE_PASSWORD_FILE"),
        connect_timeout=5,
    )
    try:
        with conn:
            yield conn
    finally:
        conn.close()
