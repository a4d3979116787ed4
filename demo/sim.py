"""Requests through the shop, one call at a time: each call does its own work, runs its stages of child calls
(one stage after the other, the calls of a stage in parallel), and ends when its last child and its own work are
done. Deadlines propagate down (gRPC-style): a child never outlives its caller's deadline, and a call cut by its
own timeout is an error for the caller. Failures travel up as the gRPC errors each runtime prints.

Every call updates its pod's per-minute statistics; spans are kept for the sampled traces only (head sampling at
the frontend, as an OpenTelemetry ratio sampler does); log lines are written whether or not a trace is sampled.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from demo.cluster import Cluster
from demo.faults import Fault
from demo.shop import (
    ROUTE_DEADLINE_S,
    ROUTES,
    SERVICES,
    SLOW_STATEMENT_MS,
    STATEMENTS,
    Call,
    Route,
    Service,
)
from demo.texts import (
    CRASH,
    PRODUCTS,
    STARVED,
    TRANSIENT,
    Fields,
    client_error,
    datastore_error,
    fill,
    uuid_from,
)
from shared.telemetry_records import LogRecord, Span

TRANSIENT_RATE = 0.00015  # a call reset by the mesh before it reaches the callee
WARN_RATE = 0.002
NET_S = (0.0002, 0.0007)  # one way on the pod network: at least, plus up to
_GOLDEN, _MASK64 = 0x9E3779B97F4A7C15, (1 << 64) - 1  # span ids: a counter spread over 64 bits
STARVED_FACTOR = 8.0  # own work this many times the median makes a starved runtime complain
ACCESS_LOG = ("request complete http.req.method={method} http.req.path={path} http.resp.status={status} "
              "http.resp.bytes={bytes} http.resp.took_ms={dur_ms} session={session} ip={client_ip}")
_METHOD = {"home": "GET", "product": "GET", "view_cart": "GET", "add_to_cart": "POST", "checkout": "POST"}


@dataclass(frozen=True)
class Failure:
    code: str  # gRPC status code
    desc: str  # what the caller reads


DEADLINE = Failure("DeadlineExceeded", "context deadline exceeded")


@dataclass
class Outcome:
    end: float
    failure: Failure | None = None
    cut: bool = False  # ended by a deadline


@dataclass
class Minute:
    calls: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    held_s: float = 0.0  # pool connection-seconds
    timeouts: int = 0  # pool acquire timeouts


@dataclass
class Request:
    route: Route
    trace: str
    sampled: bool
    user: str
    ip: str  # the client's address


def _first_line(text: str, limit: int = 300) -> str:
    return text.split("\n", 1)[0][:limit]


class Simulation:
    def __init__(self, rng: random.Random, cluster: Cluster, fault: Fault, sample_ratio: float):
        self.rng, self.cluster, self.fault, self.sample_ratio = rng, cluster, fault, sample_ratio
        self.users = tuple(uuid_from(rng) for _ in range(500))
        self.ips = tuple(f"{rng.choice(('203.0.113', '198.51.100', '192.0.2'))}.{rng.randint(2, 254)}"
                         for _ in self.users)
        self.spans: list[Span] = []
        self.logs: list[LogRecord] = []
        self.minutes: dict[tuple[str, int], Minute] = {}
        self.front: list[tuple[float, float, bool]] = []  # every page: start, seconds, failed
        self._spans = 0
        self._salt = rng.getrandbits(64)

    def run(self, begin: float, end: float, per_minute: float) -> None:
        rng = self.rng
        weights = [r.weight for r in ROUTES]
        t = begin
        while t < end:
            mean = per_minute * (1 + 0.12 * rng.uniform(-1, 1))
            for _ in range(max(0, round(rng.gauss(mean, mean ** 0.5)))):
                start = t + rng.random() * 60
                if start < end:
                    self.request(rng.choices(ROUTES, weights)[0], start)
            t += 60

    def request(self, route: Route, start: float) -> None:
        rng = self.rng
        who = rng.randrange(len(self.users))
        req = Request(route, f"{rng.getrandbits(128):032x}", rng.random() < self.sample_ratio, self.users[who],
                      self.ips[who])
        out = self.call(route.call, start, start + ROUTE_DEADLINE_S, req, "")
        self.front.append((start, out.end - start, out.failure is not None))

    # ------------------------------------------------------------ one call

    def call(self, c: Call, start: float, deadline: float, req: Request, parent: str) -> Outcome:
        if start >= deadline:
            return Outcome(deadline, DEADLINE, cut=True)
        rng = self.rng
        svc = SERVICES[c.service]
        op = svc.ops[c.op]
        pod = self.cluster.pick(c.service, start, op.primary).name
        self._spans += 1
        span_id = f"{(self._spans * _GOLDEN + self._salt) & _MASK64:016x}"
        base = op.median_ms * 0.001 * math.exp(rng.gauss(0.0, op.sigma))
        own = self.fault.stretch(base, start, svc.name, pod, rng)
        stages = c.stages
        pre = own * 0.5 if stages else own
        gap = own * 0.5 / len(stages) if stages else 0.0
        failure: Failure | None = None
        cut = False
        if self.fault.crashes(start, svc.name, pod, c.op, rng):
            t = start + pre * rng.uniform(0.2, 1.0)
            failure = self._crash(svc, pod, c, t, req, span_id)
            stages = ()
        else:
            t = start + pre
        for stage in stages:
            if t >= deadline:
                cut = True
                break
            conn_at = -1.0
            if svc.pool is not None and any(ch.service == svc.pool.datastore for ch in stage):
                got, t, why = self._acquire(svc, pod, t, deadline, req, span_id)
                if t >= deadline:
                    cut = True
                    break
                if not got:
                    failure = Failure("Unavailable", _first_line(why))
                    break
                conn_at = t
            stage_end = t
            for i, child in enumerate(stage):
                ct = t + i * 0.00004
                for _ in range(1 if child.repeat[1] == 1 else rng.randint(*child.repeat)):
                    child_deadline = min(deadline, ct + child.timeout_ms / 1000)
                    sent = ct + NET_S[0] + rng.random() * NET_S[1]
                    if not SERVICES[child.service].datastore and rng.random() < TRANSIENT_RATE:
                        r = Outcome(sent + rng.uniform(0.0005, 0.003), Failure("Unavailable", TRANSIENT))
                    else:
                        r = self.call(child, sent, child_deadline, req, span_id)
                    ct = r.end + NET_S[0] + rng.random() * NET_S[1]
                    if r.failure is not None:
                        if r.cut and child_deadline >= deadline:
                            cut = True
                        else:
                            raised = self._child_failed(svc, pod, child, r, ct, req, span_id)
                            if child.critical and failure is None:
                                failure = raised
                        break
                stage_end = max(stage_end, ct)
            if conn_at >= 0:
                self._minute(pod, conn_at).held_s += stage_end - conn_at
            t = stage_end
            if cut or failure:
                break
            t += gap
        end = t + (rng.uniform(0.0001, 0.0004) if failure else 0.0)
        if cut or end >= deadline:
            end, cut, failure = deadline, True, DEADLINE
        self._record(svc, c, pod, span_id, parent, start, end, own, base, failure, cut, req)
        return Outcome(end, failure, cut)

    # ------------------------------------------------------------ what a call leaves behind

    def _record(self, svc: Service, c: Call, pod: str, span_id: str, parent: str, start: float, end: float,
                own: float, base: float, failure: Failure | None, cut: bool, req: Request) -> None:
        rng = self.rng
        op = svc.ops[c.op]
        m = self._minute(pod, start)
        m.calls += 1
        m.errors += failure is not None
        m.latencies_ms.append((end - start) * 1000)
        status = ""
        if failure is not None:
            status = "canceling statement due to user request" if cut and svc.runtime == "postgres" else failure.desc
        if req.sampled:
            self.spans.append(Span(req.trace, span_id, parent, svc.name, op.span, start, end, pod,
                                   failure is not None, _first_line(status, 200)))
        dur_ms = (end - start) * 1000
        if not parent:
            method = _METHOD[c.op]
            path = req.route.path.format(pid=rng.choice(PRODUCTS)[0])
            text = fill(ACCESS_LOG, self._fields(req, end, method=method, path=path, dur_ms=round(dur_ms),
                                                 status=500 if failure else 200))
            self._log(end, svc, pod, "ERROR" if failure else "INFO", text, req, span_id)
        elif op.logs and rng.random() < svc.info_rate:
            text = fill(rng.choice(op.logs), self._fields(req, start))
            self._log(start + (end - start) * 0.4, svc, pod, "INFO", text, req, span_id)
        if svc.warn and rng.random() < WARN_RATE:
            self._log(end, svc, pod, "WARNING", fill(rng.choice(svc.warn), self._fields(req, end)), req, span_id)
        if svc.runtime == "postgres":
            sql = STATEMENTS[c.op]
            if cut:
                self._log(end, svc, pod, "ERROR", f"canceling statement due to user request\nSTATEMENT:  {sql}",
                          req, span_id)
            elif dur_ms >= SLOW_STATEMENT_MS:
                self._log(end, svc, pod, "INFO", f"duration: {dur_ms:.3f} ms  execute <unnamed>: {sql}", req, span_id)
        elif svc.runtime in STARVED and own > STARVED_FACTOR * op.median_ms * 0.001 and rng.random() < 0.3:
            text = fill(STARVED[svc.runtime], self._fields(req, end, op=op.span.rsplit("/", 1)[-1],
                                                           dur_ms=round(own * 1000), budget=round(base * 4000 + 5)))
            self._log(end, svc, pod, "WARNING", text, req, span_id)

    def _crash(self, svc: Service, pod: str, c: Call, t: float, req: Request, span_id: str) -> Failure:
        template, short = CRASH[svc.runtime]
        method = svc.ops[c.op].span.rsplit("/", 1)[-1]
        text = fill(template, self._fields(req, t, op=method, **svc.crash))
        self._log(t, svc, pod, "ERROR", text, req, span_id)
        return Failure("Unknown" if svc.runtime == "go" else "Internal", short)

    def _acquire(self, svc: Service, pod: str, t: float, deadline: float, req: Request,
                 span_id: str) -> tuple[bool, float, str]:
        """Take a connection from the pod's pool: (got one, when the wait ended, the client's complaint)."""
        rng = self.rng
        pool = svc.pool
        assert pool is not None
        if self.fault.leaked(svc.name, pod, t) < pool.size:
            return True, t + rng.uniform(0.00001, 0.0001), ""
        timeout = pool.acquire_timeout_ms / 1000
        got = rng.random() < 0.1  # a leaked connection was reclaimed just now
        waited = timeout * rng.uniform(0.25, 0.95) if got else timeout
        if t + waited >= deadline:
            return False, deadline, ""
        if got:
            return True, t + waited, ""
        self._minute(pod, t).timeouts += 1
        text = fill(pool.timeout_log, self._fields(req, t + waited, size=pool.size, waited=round(waited * 1000),
                                                   waiting=rng.randint(2, 14)))
        self._log(t + waited, svc, pod, "ERROR", text, req, span_id)
        return False, t + waited, text

    def _child_failed(self, svc: Service, pod: str, child: Call, r: Outcome, t: float, req: Request,
                      span_id: str) -> Failure:
        """The caller's line about a failed call, and the error it raises in turn."""
        callee = SERVICES[child.service]
        assert r.failure is not None
        if r.cut and callee.datastore:
            text = datastore_error(svc.runtime, callee.runtime, child.purpose, STATEMENTS[child.op], child.timeout_ms,
                                   self.rng.randint(1, 9))
        elif r.cut:
            text = client_error(svc.runtime, child.purpose, "DeadlineExceeded", "context deadline exceeded")
        else:
            text = client_error(svc.runtime, child.purpose, r.failure.code, r.failure.desc)
        if not child.critical:
            text += " (continuing without it)"
        self._log(t, svc, pod, "ERROR" if child.critical else "WARNING", text, req, span_id)
        return Failure("Unknown" if svc.runtime == "go" else "Internal", _first_line(text))

    # ------------------------------------------------------------ helpers

    def _minute(self, pod: str, t: float) -> Minute:
        key = (pod, int(t // 60))
        m = self.minutes.get(key)
        if m is None:
            m = self.minutes[key] = Minute()
        return m

    def _fields(self, req: Request, t: float, **ctx: object) -> Fields:
        return Fields(self.rng, self.users, {"t": t, "uid": req.user, "session": req.user, "client_ip": req.ip, **ctx})

    def _log(self, t: float, svc: Service, pod: str, severity: str, text: str, req: Request, span_id: str) -> None:
        traced = svc.runtime not in ("postgres", "redis", "python")  # uninstrumented loggers carry no trace
        self.logs.append(LogRecord(t, svc.name, text, severity, pod, req.trace if traced else "",
                                   span_id if traced else ""))

