"""Renders sp404's page on the server, from the backend's /api/health."""

import html
import json
import os
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_URL = os.environ.get("NUXT_PUBLIC_API_URL", "http://backend:8000")


def backend_health() -> str:
    try:
        with urllib.request.urlopen(f"{API_URL}/api/health", timeout=3) as response:
            return json.dumps(json.load(response))
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return f"unreachable: {error}"


class Page(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>sp404</title></head><body><h1>sp404</h1>"
            f"<p>backend: {html.escape(backend_health())}</p></body></html>\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 3000), Page).serve_forever()
