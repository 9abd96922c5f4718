"""Prometheus metrics in the text exposition format, counted by hand: requests
by path and status, and whether each dependency answered at scrape time."""

import threading
from collections import Counter

_lock = threading.Lock()
_requests = Counter()


def count_request(path: str, status: int) -> None:
    with _lock:
        _requests[(path, status)] += 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(dependencies: dict) -> str:
    lines = [
        "# HELP sp404_http_requests_total Requests answered, by path and status.",
        "# TYPE sp404_http_requests_total counter",
    ]
    with _lock:
        counted = sorted(_requests.items())
    for (path, status), count in counted:
        lines.append(f'sp404_http_requests_total{{path="{_label(path)}",status="{status}"}} {count}')
    lines += [
        "# HELP sp404_dependency_up Whether a dependency answered (1) or not (0).",
        "# TYPE sp404_dependency_up gauge",
    ]
    for name, up in sorted(dependencies.items()):
        lines.append(f'sp404_dependency_up{{dependency="{name}"}} {int(up)}')
    return "\n".join(lines) + "\n"
