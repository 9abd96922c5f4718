"""The smallest backend the stack can run: a health check and one endpoint.

The database password arrives as a file (DATABASE_PASSWORD_FILE), never in the
environment; a real backend reads it when it opens its connection pool.
"""
import os

from fastapi import FastAPI

app = FastAPI()


def read_secret(variable: str) -> str:
    with open(os.environ[variable], encoding="utf-8") as file:
        return file.read()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.get("/hello")
def hello() -> dict:
    return {
        "database": os.environ["DATABASE_URL"],
        "password_given": bool(read_secret("DATABASE_PASSWORD_FILE")),
    }
