"""codenav's HTTP API: the symbol index, and /health for probes and the gateway."""

import os
import socket

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from . import store

RELEASE = os.environ.get("CODENAV_RELEASE", "unknown")

app = FastAPI(title="codenav")
client = store.connect()


class Location(BaseModel):
    file: str
    line: int


@app.get("/health")
def health():
    redis_up = store.reachable(client)
    body = {
        "status": "ok" if redis_up else "degraded",
        "redis": redis_up,
        "release": RELEASE,
        "replica": socket.gethostname(),
    }
    # Without Redis the API cannot answer: the probe takes the replica out.
    return JSONResponse(body, status_code=200 if redis_up else 503)


@app.get("/symbols")
def list_symbols():
    return store.symbol_names(client)


@app.put("/symbols/{name}")
def put_symbol(name: str, location: Location):
    entry = {"file": location.file, "line": location.line}
    store.put_symbol(client, name, entry)
    return {"name": name, **entry}


@app.get("/symbols/{name}")
def get_symbol(name: str):
    found = store.get_symbol(client, name)
    if not found:
        raise HTTPException(status_code=404, detail=f"no symbol {name!r}")
    return {"name": name, "file": found["file"], "line": int(found["line"])}
