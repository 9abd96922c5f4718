"""codenav's SSE server: streams changes to the index as server-sent events.

A client first gets a `connected` event, once the server listens for changes;
then every change the HTTP API publishes on Redis arrives as a `data:` line,
and when nothing happens for a second, a heartbeat does, so clients and
proxies see the stream alive.
"""

import json
import os
import time

import redis.asyncio
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from . import store

RELEASE = os.environ.get("CODENAV_RELEASE", "unknown")
HEARTBEAT_SECONDS = 1.0

app = FastAPI(title="codenav events")


@app.get("/health")
def health():
    return {"status": "ok", "release": RELEASE}


def event(fields: dict) -> str:
    return f"data: {json.dumps({**fields, 'release': RELEASE})}\n\n"


async def changes(request: Request):
    client = redis.asyncio.Redis.from_url(store.REDIS_URL, decode_responses=True)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(store.EVENTS)
        yield event({"type": "connected"})
        while not await request.is_disconnected():
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=HEARTBEAT_SECONDS
            )
            if message is not None:
                yield f"data: {message['data']}\n\n"
            else:
                yield event({"type": "heartbeat", "time": time.time()})
    finally:
        await pubsub.close()
        await client.close()


@app.get("/events")
def events(request: Request):
    return StreamingResponse(
        changes(request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
