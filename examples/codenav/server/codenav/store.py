"""Where codenav keeps its index: Redis, at REDIS_URL."""

import json
import os

import redis

REDIS_URL = os.environ.get("REDIS_URL", "redis://redis:6379")
# Every change to the index is published here; the SSE server streams it.
EVENTS = "codenav:events"
SYMBOLS = "codenav:symbols"


def connect() -> redis.Redis:
    return redis.Redis.from_url(
        REDIS_URL, decode_responses=True, socket_timeout=2, socket_connect_timeout=2
    )


def reachable(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def put_symbol(client: redis.Redis, name: str, location: dict) -> None:
    pipeline = client.pipeline()
    pipeline.hset(f"codenav:symbol:{name}", mapping=location)
    pipeline.sadd(SYMBOLS, name)
    pipeline.publish(EVENTS, json.dumps({"type": "symbol", "name": name, **location}))
    pipeline.execute()


def get_symbol(client: redis.Redis, name: str) -> dict:
    return client.hgetall(f"codenav:symbol:{name}")


def symbol_names(client: redis.Redis) -> list:
    return sorted(client.smembers(SYMBOLS))
