"""The API: items stored in Postgres, and a health check for the stack's probe.

Behind the frontend's nginx, which passes /api/... on as /... .
"""
import os

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from db import connection

app = FastAPI()


class NewItem(BaseModel):
    name: str


@app.get("/health")
def health() -> dict:
    """Healthy when the database answers."""
    try:
        with connection() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any failure to reach the database
        raise HTTPException(status_code=503, detail=f"database: {error}") from error
    return {"status": "ok", "release": os.environ.get("RELEASE", "")}


@app.get("/items")
def list_items() -> list:
    with connection() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id, name FROM items ORDER BY id")
        return [{"id": id, "name": name} for id, name in cursor.fetchall()]


@app.post("/items", status_code=201)
def add_item(item: NewItem) -> dict:
    name = item.name.strip()
    if not name:
        raise HTTPException(status_code=422, detail="name must not be empty")
    with connection() as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO items (name) VALUES (%s) RETURNING id", (name,))
        (id,) = cursor.fetchone()
    return {"id": id, "name": name}
