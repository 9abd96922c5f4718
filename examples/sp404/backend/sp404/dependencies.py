"""The services the backend needs: Postgres and Redis.

The database URL carries no password: it is read from the file that
DATABASE_PASSWORD_FILE names (a secret the stack mounts).
"""

import os

import psycopg2
import redis

DATABASE_URL = os.environ["DATABASE_URL"]
DATABASE_PASSWORD_FILE = os.environ.get("DATABASE_PASSWORD_FILE")
REDIS_URL = os.environ["REDIS_URL"]

cache = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def database_password() -> str:
    if not DATABASE_PASSWORD_FILE:
        return ""
    with open(DATABASE_PASSWORD_FILE, encoding="utf-8") as file:
        return file.read().strip()


def connect():
    return psycopg2.connect(DATABASE_URL, password=database_password(), connect_timeout=3)


def postgres_up() -> bool:
    try:
        connection = connect()
    except psycopg2.Error:
        return False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except psycopg2.Error:
        return False
    finally:
        connection.close()


def redis_up() -> bool:
    try:
        return bool(cache.ping())
    except redis.RedisError:
        return False
