"""sp404's API: health of its dependencies, uploads, and Prometheus metrics.

nginx passes /api/ here unchanged; Prometheus scrapes /metrics directly on the
stack's network.
"""

import re
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse

from . import dependencies, metrics

UPLOADS = Path("/app/uploads")
# A plain file name: no directories, no hidden files.
UPLOAD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

app = FastAPI(title="sp404")


@app.middleware("http")
async def count_requests(request: Request, call_next):
    response = await call_next(request)
    route = request.scope.get("route")
    metrics.count_request(getattr(route, "path", "unmatched"), response.status_code)
    return response


def checks() -> dict:
    return {"postgres": dependencies.postgres_up(), "redis": dependencies.redis_up()}


@app.get("/api/health")
def health():
    found = checks()
    healthy = all(found.values())
    body = {"status": "ok" if healthy else "degraded", **found}
    return JSONResponse(body, status_code=200 if healthy else 503)


@app.get("/metrics", response_class=PlainTextResponse)
def prometheus_metrics():
    return PlainTextResponse(metrics.render(checks()), media_type="text/plain; version=0.0.4")


def upload_path(name: str) -> Path:
    if not UPLOAD_NAME.match(name):
        raise HTTPException(status_code=400, detail="an upload's name is a plain file name")
    return UPLOADS / name


@app.get("/api/uploads")
def list_uploads():
    return sorted(path.name for path in UPLOADS.iterdir() if path.is_file() and not path.name.startswith("."))


@app.put("/api/uploads/{name}", status_code=201)
async def put_upload(name: str, request: Request):
    path = upload_path(name)
    path.write_bytes(await request.body())
    return {"name": name, "size": path.stat().st_size}


@app.get("/api/uploads/{name}")
def get_upload(name: str):
    path = upload_path(name)
    if not path.is_file():
        raise HTTPException(status_code=404, detail=f"no upload {name!r}")
    return FileResponse(path)
