"""The service dependency graph (caller -> callee), built from the trace analyst's topology finding."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable

from shared.models import Finding


class ServiceGraph:
    def __init__(self, edges: Iterable[tuple[str, str, int]] = ()):
        self.callees: dict[str, set[str]] = defaultdict(set)
        self.callers: dict[str, set[str]] = defaultdict(set)
        self.calls: dict[tuple[str, str], int] = {}
        for caller, callee, n in edges:
            if caller == callee:
                continue
            self.callees[caller].add(callee)
            self.callers[callee].add(caller)
            self.calls[(caller, callee)] = self.calls.get((caller, callee), 0) + int(n)

    @classmethod
    def from_findings(cls, findings: Iterable[Finding]) -> ServiceGraph:
        edges: list[tuple[str, str, int]] = []
        for f in findings:
            if f.kind == "trace.topology":
                edges += [(str(a), str(b), int(n)) for a, b, n in f.details.get("edges", [])]
        return cls(edges)

    @property
    def nodes(self) -> set[str]:
        return set(self.callees) | set(self.callers)

    def __contains__(self, service: str) -> bool:
        return service in self.nodes

    def entries(self) -> list[str]:
        """Services nobody calls: where requests come in."""
        return sorted(n for n in self.nodes if not self.callers.get(n))

    def downstream(self, service: str) -> set[str]:
        """Every service `service` calls, directly or not."""
        return self._reach(service, self.callees)

    def upstream(self, service: str) -> set[str]:
        return self._reach(service, self.callers)

    @staticmethod
    def _reach(start: str, adjacency: dict[str, set[str]]) -> set[str]:
        seen: set[str] = set()
        queue = deque([start])
        while queue:
            for nxt in sorted(adjacency.get(queue.popleft(), ())):
                if nxt not in seen and nxt != start:
                    seen.add(nxt)
                    queue.append(nxt)
        return seen

    def path_up(self, cause: str, targets: Iterable[str]) -> list[str]:
        """The shortest caller chain from `cause` up to the nearest of `targets` (cause first), [cause] if none."""
        goal = set(targets)
        if cause in goal:
            return [cause]
        parent: dict[str, str] = {}
        queue = deque([cause])
        seen = {cause}
        while queue:
            node = queue.popleft()
            for caller in sorted(self.callers.get(node, ())):
                if caller in seen:
                    continue
                seen.add(caller)
                parent[caller] = node
                if caller in goal:
                    path = [caller]
                    while path[-1] != cause:
                        path.append(parent[path[-1]])
                    return list(reversed(path))
                queue.append(caller)
        return [cause]
