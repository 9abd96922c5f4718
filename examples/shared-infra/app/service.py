"""my-service: answers whether the shared Postgres is reachable, and which
server it is.

DATABASE_URL names the server without the password; the password is in the
file DATABASE_PASSWORD_FILE names (a secret the stack mounts). The other
shared services (Mongo, Redis, Kafka, the LLM API) are configured the same way
and not contacted here.
"""

import os

import psycopg2
from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI(title="my-service")


def password() -> str:
    with open(os.environ["DATABASE_PASSWORD_FILE"], encoding="utf-8") as file:
        return file.read().strip()


@app.get("/health")
def health():
    try:
        connection = psycopg2.connect(
            os.environ["DATABASE_URL"], password=password(), connect_timeout=3
        )
    except (OSError, psycopg2.Error) as error:
        body = {"postgres": False, "error": str(error).strip()}
        return JSONResponse(body, status_code=503)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database(), current_user, version()")
            database, user, version = cursor.fetchone()
    finally:
        connection.close()
    return {"postgres": True, "database": database, "user": user, "server": version}
