"""Write a provider for stack in Python: one file, the standard library only.

A provider is a subclass of `Provider`; the program's main is one line:

    if __name__ == "__main__":
        stack_provider.serve(MyProvider())

`serve` speaks the provider protocol (spec/providers.md) on standard input and output: one
JSON-RPC 2.0 message per line. It answers the handshake with the provider's kinds, calls
`configure` once, then runs every other call on a thread of its own. Log with `log()`: it
writes to standard error, which `stack --verbose` shows.
"""

import json
import sys
import threading

PROTOCOL_VERSION = 1

PARSE_ERROR = -32700
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
PROVIDER_ERROR = -32000


class ProviderError(Exception):
    """A failure to show the user: what went wrong with which object, and what to do."""

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint


def field(name, type="string", doc="", shape="scalar", required=False, default=None,
          effect="in-place", sensitive=False):
    """A field of a kind or of the provider's configuration, as the handshake describes it.

    type: "string", "int", "float", "bool", "duration", "size", "path", or {"enum": [...]}.
    shape: "scalar", "list" or "map". effect: "in-place" or "replace".
    """
    spec = {"name": name, "doc": doc, "type": type, "shape": shape, "required": required,
            "effect": effect, "sensitive": sensitive}
    if default is not None:
        spec["default"] = default
    return spec


def kind(name, fields, doc="", ready="exists"):
    """A kind: the node name in stack files, and its fields."""
    return {"name": name, "doc": doc, "fields": fields, "ready": ready}


def value(obj, name):
    """The value to apply for field `name` of a desired object: the secret when it is
    sensitive (secrets come only in create, update and replace), else its config."""
    secrets = obj.get("secrets") or {}
    if name in secrets:
        return secrets[name]
    return obj["config"].get(name)


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


class Provider:
    """Override `kinds`, `read`, `create`, `update` and `delete`; the rest is optional.

    Objects are dicts as the protocol says: a desired object has `kind`, `address`, `name`,
    `config` and, in create/update/replace, `secrets`; a live object has `address`, `name`,
    `config` (as recorded), `drift` ([{"field", "actual"}]), `state` and `healthy`.
    """

    name = "unnamed"
    version = "0.0.0"

    def kinds(self):
        raise NotImplementedError

    def config(self):
        return []

    def configure(self, config):
        pass

    def read(self, stack, kind):
        raise NotImplementedError

    def read_external(self, stack, obj):
        pass

    def create(self, stack, obj):
        raise NotImplementedError

    def update(self, stack, obj, live):
        raise NotImplementedError

    def replace(self, stack, obj, live):
        self.delete(stack, live)
        self.create(stack, obj)

    def delete(self, stack, live):
        raise NotImplementedError

    def wait(self, stack, obj, condition, timeout_seconds):
        pass

    def make_drift(self, stack, live):
        """Changes the object outside stack, for `stack provider check`; optional."""
        raise _NotImplemented("make_drift")


class _NotImplemented(Exception):
    def __init__(self, method):
        super().__init__(method)
        self.method = method


def _dispatch(provider, method, params):
    if method == "initialize":
        # Whatever version stack speaks, this one is said: stack refuses a mismatch.
        return {"protocol_version": PROTOCOL_VERSION, "name": provider.name,
                "version": provider.version, "kinds": provider.kinds(),
                "config": provider.config()}
    if method == "configure":
        provider.configure(params["config"])
        return None
    stack = params.get("stack")
    if method == "read":
        return {"objects": provider.read(stack, params["kind"])}
    if method == "read_external":
        return provider.read_external(stack, params["object"])
    if method == "create":
        return provider.create(stack, params["object"])
    if method == "update":
        return provider.update(stack, params["object"], params["live"])
    if method == "replace":
        return provider.replace(stack, params["object"], params["live"])
    if method == "delete":
        return provider.delete(stack, params["object"])
    if method == "wait":
        return provider.wait(stack, params["object"], params["condition"],
                             params["timeout_ms"] / 1000)
    if method == "make_drift":
        return provider.make_drift(stack, params["object"])
    raise _NotImplemented(method)


def _answer(provider, request, write):
    request_id = request.get("id")
    try:
        result = _dispatch(provider, request.get("method"), request.get("params") or {})
        write({"jsonrpc": "2.0", "id": request_id, "result": result})
    except ProviderError as error:
        failure = {"code": PROVIDER_ERROR, "message": error.message}
        if error.hint:
            failure["data"] = {"hint": error.hint}
        write({"jsonrpc": "2.0", "id": request_id, "error": failure})
    except (_NotImplemented, NotImplementedError) as error:
        message = "this provider has no method `%s`" % getattr(error, "method", request.get("method"))
        write({"jsonrpc": "2.0", "id": request_id,
               "error": {"code": METHOD_NOT_FOUND, "message": message}})
    except (KeyError, TypeError) as error:
        write({"jsonrpc": "2.0", "id": request_id,
               "error": {"code": INVALID_PARAMS, "message": "bad parameters: %r" % (error,)}})
    except Exception as error:  # a bug of the provider: said, and the next call still runs
        write({"jsonrpc": "2.0", "id": request_id,
               "error": {"code": INTERNAL_ERROR, "message": "%s: %s" % (type(error).__name__, error)}})


def serve(provider):
    """Serves `provider` until standard input closes."""
    lock = threading.Lock()
    out = sys.stdout

    def write(message):
        line = json.dumps(message, separators=(",", ":"))
        with lock:
            out.write(line + "\n")
            out.flush()

    calls = []
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as error:
            write({"jsonrpc": "2.0", "id": None,
                   "error": {"code": PARSE_ERROR, "message": "not a request: %s" % error}})
            continue
        # The handshake and the configuration come first, alone.
        if request.get("method") in ("initialize", "configure"):
            _answer(provider, request, write)
            continue
        call = threading.Thread(target=_answer, args=(provider, request, write))
        call.start()
        calls.append(call)
        calls = [call for call in calls if call.is_alive()]
    for call in calls:
        call.join()
