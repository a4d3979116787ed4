"""The words services write: values for log-template fields, and the runtime-flavoured lines (gRPC client
errors, crashes of a bad build, startup and shutdown) that each language's libraries really print.

A template is a `str.format` string; fields it names are drawn lazily from `Fields`, so a line costs only the
values it uses, and the caller can pin any field (a real duration, a real status) through `ctx`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

PRODUCTS = (
    ("OLJCESPC7Z", "Sunglasses"), ("66VCHSJNUP", "Tank Top"), ("1YMWWN1N4O", "Watch"), ("L9ECAV7KIM", "Loafers"),
    ("2ZYFJ3GM2N", "Hairdryer"), ("0PUK6V6EV0", "Candle Holder"), ("LS4PSXUNUM", "Salt & Pepper Shakers"),
    ("9SIQT8TOJO", "Bamboo Glass Jar"), ("6E92ZMYYFZ", "Mug"),
)
CURRENCIES = ("USD", "EUR", "JPY", "GBP", "CAD", "TRY")
CARDS = ("visa", "mastercard", "amex")
CATEGORIES = ("clothing", "accessories", "footwear", "hair", "decor", "kitchen")
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari",
    "python-requests/2.32.3",
)
NAMES = ("alex", "sam", "kim", "noa", "lee", "rin", "max", "ada", "joe", "mia", "ola", "yui")


def uuid_from(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


class Fields(dict[str, Any]):
    """A mapping that draws a value for a template field the first time it is asked for."""

    def __init__(self, rng: random.Random, users: tuple[str, ...], ctx: dict[str, Any]):
        super().__init__(ctx)
        self.rng = rng
        self.users = users

    def __missing__(self, key: str) -> Any:
        make = _MAKERS.get(key)
        if make is None:
            raise KeyError(key)
        value = make(self)
        self[key] = value
        return value


def _product(f: Fields) -> tuple[str, str]:
    pid, name = f.rng.choice(PRODUCTS)
    f["pid"], f["pname"] = pid, name
    return pid, name


def _redis_time(f: Fields) -> str:
    t = float(f.get("t", 0.0))
    return datetime.fromtimestamp(t, UTC).strftime("%d %b %Y %H:%M:%S.") + f"{int(t * 1000) % 1000:03d}"


_MAKERS: dict[str, Callable[[Fields], Any]] = {
    "uid": lambda f: f.rng.choice(f.users),
    "session": lambda f: f.rng.choice(f.users),
    "client_ip": lambda f: f"{f.rng.choice(('203.0.113', '198.51.100', '192.0.2'))}.{f.rng.randint(2, 254)}",
    "pod_ip": lambda f: f"10.8.{f.rng.randint(0, 15)}.{f.rng.randint(2, 254)}",
    "port": lambda f: f.rng.randint(32768, 60999),
    "pid": lambda f: _product(f)[0],
    "pname": lambda f: _product(f)[1],
    "pids": lambda f: "[" + ", ".join(repr(p) for p, _ in f.rng.sample(PRODUCTS, 4)) + "]",
    "qty": lambda f: f.rng.randint(1, 5),
    "n": lambda f: f.rng.randint(2, 48),
    "amount": lambda f: f"{f.rng.uniform(4, 420):.2f}",
    "cur": lambda f: f.rng.choice(CURRENCIES),
    "cur2": lambda f: f.rng.choice(CURRENCIES),
    "card": lambda f: f.rng.choice(CARDS),
    "last4": lambda f: f"{f.rng.randint(0, 9999):04d}",
    "oid": lambda f: uuid_from(f.rng),
    "txid": lambda f: uuid_from(f.rng),
    "msgid": lambda f: f"<{f.rng.getrandbits(64):016x}@mail.demo-shop.example>",
    "tracking": lambda f: f"{f.rng.choice('ABCDEFGHKLMNPRSTUVWXYZ')}{f.rng.choice('ABCDEFGHKLMN')}-"
                          f"{f.rng.randint(10000, 99999)}-{f.rng.randint(10000, 99999)}",
    "email": lambda f: f"{f.rng.choice(NAMES)}.{f.rng.randint(1, 999)}@example.com",
    "zip": lambda f: f"{f.rng.randint(10000, 99999)}",
    "kw": lambda f: f.rng.choice(CATEGORIES),
    "bytes": lambda f: f.rng.randint(1800, 36000),
    "ua": lambda f: f.rng.choice(AGENTS),
    "ms": lambda f: f.rng.randint(3, 90),
    "gid": lambda f: f.rng.randint(200, 48000),
    "hex": lambda f: f"{f.rng.getrandbits(24):06x}",
    "hex3": lambda f: f"{f.rng.getrandbits(12):03x}",
    "thread": lambda f: f.rng.randint(1, 16),
    "version": lambda f: f.rng.randint(1200, 1299),
    "buffers": lambda f: f.rng.randint(40, 900),
    "pct": lambda f: f"{f.rng.uniform(0.2, 5.5):.1f}",
    "secs": lambda f: f"{f.rng.uniform(2.0, 28.0):.3f}",
    "sync": lambda f: f"{f.rng.uniform(0.001, 0.04):.3f}",
    "changes": lambda f: f.rng.choice((1, 10, 100)),
    "child": lambda f: f.rng.randint(400, 9000),
    "report_ms": lambda f: f"{f.rng.uniform(600, 1400):.3f}",
    "rts": _redis_time,
}


def fill(template: str, fields: Fields) -> str:
    return template.format_map(fields)


# ---------------------------------------------------------------- gRPC status codes as each runtime prints them

_GRPC_NUM = {"Unknown": 2, "DeadlineExceeded": 4, "Internal": 13, "Unavailable": 14}
_GRPC_UPPER = {"Unknown": "UNKNOWN", "DeadlineExceeded": "DEADLINE_EXCEEDED", "Internal": "INTERNAL",
               "Unavailable": "UNAVAILABLE"}


def client_error(runtime: str, purpose: str, code: str, desc: str) -> str:
    """The line a client written in `runtime` logs when a call it makes fails with gRPC `code`."""
    if runtime == "java":
        return f"{purpose} failed: io.grpc.StatusRuntimeException: {_GRPC_UPPER[code]}: {desc}"
    if runtime == "node":
        return f"{purpose} failed: Error: {_GRPC_NUM[code]} {_GRPC_UPPER[code]}: {desc}"
    if runtime == "python":
        return (f"{purpose} failed: <_InactiveRpcError of RPC that terminated with: status = "
                f"StatusCode.{_GRPC_UPPER[code]} details = \"{desc}\">")
    if runtime == "csharp":
        return f"{purpose} failed: Grpc.Core.RpcException: Status(StatusCode=\"{code}\", Detail=\"{desc}\")"
    return f"failed to {purpose}: rpc error: code = {code} desc = {desc}"


def datastore_error(runtime: str, datastore_kind: str, purpose: str, statement: str, timeout_ms: int,
                    queued: int) -> str:
    """The line a client logs when its call to a database or cache times out."""
    if datastore_kind == "redis":
        if runtime == "csharp":
            return (f"{purpose} failed: StackExchange.Redis.RedisTimeoutException: Timeout performing {statement} "
                    f"({timeout_ms}ms), next: {statement}, inst: 0, qu: 0, qs: {queued}, in: 0, "
                    f"serverEndpoint: redis-cart:6379")
        return f"failed to {purpose}: redis: i/o timeout after {timeout_ms}ms ({statement})"
    if runtime == "java":
        return (f"{purpose} failed: org.springframework.dao.QueryTimeoutException: PreparedStatementCallback; "
                f"SQL [{statement}]; ERROR: canceling statement due to user request")
    return (f"failed to {purpose}: timeout: context deadline exceeded after {timeout_ms}ms: ERROR: canceling "
            f"statement due to user request (SQLSTATE 57014)")


TRANSIENT = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"

STARTUP = {
    "go": ("starting grpc server at :{listen}", "profiler initialized, version {image}"),
    "java": ("Started {app} in {secs} seconds (process running for {secs2})", "HikariPool-1 - Start completed."),
    "node": ("{svc} gRPC server started on port {listen}", "Profiler enabled for {svc}@{image}"),
    "python": ("Booting worker with pid: {child}", "listening on port {listen}"),
    "csharp": ("Now listening on: http://[::]:{listen}", "Application started. Hosting environment: Production"),
    "postgres": ("database system is ready to accept connections",),
    "redis": ("1:M {rts} * Ready to accept connections tcp",),
}
SHUTDOWN = {
    "go": "received signal terminated, shutting down gracefully",
    "java": "Commencing graceful shutdown. Waiting for active requests to complete",
    "node": "SIGTERM received: closing gRPC server",
    "python": "Handling signal: term",
    "csharp": "Application is shutting down...",
    "postgres": "received fast shutdown request",
    "redis": "1:signal-handler ({rts}) Received SIGTERM scheduling shutdown...",
}

# How a bad build crashes a request, per runtime: {op} is the operation, the rest are per-line values.
CRASH = {
    "go": ("panic recovered in {op}: runtime error: invalid memory address or nil pointer dereference\n"
           "goroutine {gid} [running]:\nmain.(*{type}).{op}(0xc000{hex}, {{0x1c3a0e0, 0xc00{hex}}})\n"
           "\t/src/{file}.go:{line} +0x{hex3}", "runtime error: invalid memory address or nil pointer dereference"),
    "java": ("Exception while executing {op}\njava.lang.NullPointerException: Cannot invoke "
             "\"shop.{pkg}.PriceRule.apply(shop.{pkg}.Item)\" because \"rule\" is null\n"
             "\tat shop.{pkg}.{type}.{opl}({type}.java:{line})\n"
             "\tat io.grpc.stub.ServerCalls$UnaryServerCallHandler$UnaryServerCallListener.onHalfClose"
             "(ServerCalls.java:182)", "java.lang.NullPointerException"),
    "node": ("TypeError: Cannot read properties of undefined (reading 'currencyCode')\n"
             "    at {opl} (/usr/src/app/{file}.js:{line}:{col})\n"
             "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
             "TypeError: Cannot read properties of undefined (reading 'currencyCode')"),
    "python": ("Exception calling application: 'discount_code'\nTraceback (most recent call last):\n"
               "  File \"/app/{file}.py\", line {line}, in {op}\n    rule = PROMOTIONS[request.discount_code]\n"
               "KeyError: 'discount_code'", "KeyError: 'discount_code'"),
    "csharp": ("System.NullReferenceException: Object reference not set to an instance of an object.\n"
               "   at cartservice.{type}.{op}Async(String userId) in /app/{file}.cs:line {line}",
               "System.NullReferenceException: Object reference not set to an instance of an object."),
}

# What a runtime prints when its process is starved of CPU (seen on a saturated instance).
STARVED = {
    "go": "slow {op}: handled in {dur_ms}ms (budget {budget}ms), runnable goroutines={n}",
    "java": "[JvmPauseMonitor] Detected pause in JVM or host machine (eg GC): pause of approximately {dur_ms}ms",
    "node": "Event loop blocked for {dur_ms}ms while handling {op}",
    "python": "WORKER TIMEOUT warning: {op} took {dur_ms}ms, heartbeat missed",
    "csharp": "ThreadPool starvation: {op} waited {dur_ms}ms for a worker thread",
}
