"""The service dependency graph (caller -> callee), built from the trace analyst's topology finding, and the walks
the root-cause analyst needs on it: who calls whom, what a service reaches downstream, and the caller path from a
candidate cause up to the service the alert is about."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable

from shared.finding_details import TopologyDetails
from shared.models import Finding

TOPOLOGY_KIND = "trace.topology"


class ServiceGraph:
    """A directed call graph between services. Self-calls are dropped; repeated edges add their call counts.
    Every walk visits neighbours in name order, so results never depend on the order edges arrived in."""

    def __init__(self, edges: Iterable[tuple[str, str, int]] = (), declared: Iterable[tuple[str, str]] = ()):
        self.declared = frozenset(declared)  # edges the telemetry source declares and no span shows
        self._callees: dict[str, set[str]] = defaultdict(set)
        self._callers: dict[str, set[str]] = defaultdict(set)
        self.calls: dict[tuple[str, str], int] = {}
        for caller, callee, n in edges:
            if not caller or not callee or caller == callee:
                continue
            self._callees[caller].add(callee)
            self._callers[callee].add(caller)
            self.calls[(caller, callee)] = self.calls.get((caller, callee), 0) + int(n)
        # services on a call the spans show (a declared edge alone does not make its ends traced); the graph never
        # changes after it is built, so this is worked out once
        self.traced = frozenset(n for edge in self.calls if edge not in self.declared for n in edge)

    @classmethod
    def from_findings(cls, findings: Iterable[Finding]) -> ServiceGraph:
        """The graph from every trace.topology finding's `edges` ([[caller, callee, calls], ...]); no topology
        finding (no traces) gives a graph without edges, and every walk then stays where it starts."""
        edges: list[tuple[str, str, int]] = []
        declared: list[tuple[str, str]] = []
        for f in findings:
            if isinstance(f.details, TopologyDetails):
                edges += f.details.edges
                declared += f.details.declared
        return cls(edges, declared)



    def fronted_by(self, alert_service: str) -> ServiceGraph:
        """This graph, with the alert's service in front of the entry services when the traces do not show it (a
        frontend or load balancer): symptoms reach the alert through the entries, and it can be explained by
        them like any caller. Unchanged when the graph has no edges or knows the service already."""
        if not self or not alert_service or alert_service in self:
            return self
        front = [(alert_service, entry, 0) for entry in self.entries()]
        return ServiceGraph([(a, b, n) for (a, b), n in sorted(self.calls.items())] + front, self.declared)

    @property
    def nodes(self) -> set[str]:
        return set(self._callees) | set(self._callers)

    def __contains__(self, service: object) -> bool:
        return service in self._callees or service in self._callers

    def __bool__(self) -> bool:
        return bool(self.calls)

    def callers(self, service: str) -> list[str]:
        return sorted(self._callers.get(service, ()))

    def callees(self, service: str) -> list[str]:
        return sorted(self._callees.get(service, ()))

    def entries(self) -> list[str]:
        """Services nobody calls: where requests come in."""
        return sorted(n for n in self.nodes if not self._callers.get(n))

    def downstream(self, service: str, through: Callable[[str], bool] | None = None) -> set[str]:
        """Every service `service` calls, directly or not. With `through`, a walk only continues past services
        for which it holds (the services reached are still included): what can propagate along a chain of
        services that all show something."""
        return self._reach(service, self._callees, through)

    def upstream(self, service: str, through: Callable[[str], bool] | None = None) -> set[str]:
        """Every service that calls `service`, directly or not."""
        return self._reach(service, self._callers, through)

    @staticmethod
    def _reach(start: str, adjacency: dict[str, set[str]], through: Callable[[str], bool] | None) -> set[str]:
        seen: set[str] = set()
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node != start and through is not None and not through(node):
                continue
            for nxt in sorted(adjacency.get(node, ())):
                if nxt not in seen and nxt != start:
                    seen.add(nxt)
                    queue.append(nxt)
        return seen

    def targets(self, alert_service: str) -> list[str]:
        """Where the symptoms of a fault surface: the alert's service when the graph knows it, else the entry
        services (an alert on a frontend or load balancer the traces do not show lands on what it fronts)."""
        if alert_service and alert_service in self:
            return [alert_service]
        return self.entries()

    def path_up(self, cause: str, targets: Iterable[str], through: Callable[[str], bool] | None = None,
                prefer: Callable[[str], float] | None = None) -> list[str]:
        """The shortest caller chain from `cause` up to the nearest of `targets` (cause first); [cause] when `cause`
        is a target or no target is reachable. With `through`, the chain passes only services for which it holds
        (when such a chain exists); `prefer` orders callers at each step (higher first), then names."""
        goal = set(targets)
        if cause in goal:
            return [cause]
        if through is not None:
            path = self._bfs_up(cause, goal, through, prefer)
            if len(path) > 1:
                return path
        return self._bfs_up(cause, goal, None, prefer)

    def _bfs_up(self, cause: str, goal: set[str], through: Callable[[str], bool] | None,
                prefer: Callable[[str], float] | None) -> list[str]:
        parent: dict[str, str] = {}
        queue = deque([cause])
        seen = {cause}
        while queue:
            node = queue.popleft()
            callers = sorted(self._callers.get(node, ()), key=lambda c: (-(prefer(c) if prefer else 0.0), c))
            for caller in callers:
                if caller in seen:
                    continue
                seen.add(caller)
                parent[caller] = node
                if caller in goal:
                    path = [caller]
                    while path[-1] != cause:
                        path.append(parent[path[-1]])
                    return list(reversed(path))
                if through is None or through(caller):
                    queue.append(caller)
        return [cause]

    def reaches(self, cause: str, alert_service: str) -> bool:
        """Whether a fault in `cause` can surface at the alert through the calls the graph knows."""
        goal = self.targets(alert_service)
        return cause in goal or len(self.path_up(cause, goal)) > 1

    def path_to_alert(self, cause: str, alert_service: str, through: Callable[[str], bool] | None = None,
                      prefer: Callable[[str], float] | None = None) -> list[str]:
        """The services a fault in `cause` travels through to the alert, cause first and the alert's service last
        (appended after the entry service it fronts when the graph does not know it); [cause] alone when the
        graph does not connect them and the alert names no service. `through` and `prefer` as in path_up."""
        path = self.path_up(cause, self.targets(alert_service), through, prefer)
        if alert_service and alert_service not in path and (len(path) > 1 or cause in self.entries()):
            path.append(alert_service)
        return path
