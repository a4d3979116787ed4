"""The service dependency graph built from the trace analyst's topology finding, and its walks."""

from __future__ import annotations

import random

from agents.ranking.causal_graph import ServiceGraph
from shared.models import Finding

# gateway -> {cart, checkout}; checkout -> {payment, cart}; payment -> db-api; cart -> db-api; a cycle x <-> y
EDGES = [["gateway", "cart", 40], ["gateway", "checkout", 30], ["checkout", "payment", 30],
         ["checkout", "cart", 10], ["payment", "db-api", 25], ["cart", "db-api", 50], ["x", "y", 1], ["y", "x", 1]]


def topology(edges: list[list[object]]) -> Finding:
    return Finding(specialist="traces", kind="trace.topology", title="call graph", details={"edges": edges})


def graph(edges: list[list[object]] = EDGES) -> ServiceGraph:
    return ServiceGraph.from_findings([topology(edges)])


def test_the_graph_comes_from_the_topology_finding_only() -> None:
    g = ServiceGraph.from_findings([topology([*EDGES, ["cart", "cart", 9], ["cart", "db-api", 5]]),
                                    Finding(specialist="traces", kind="trace.latency_shift", service="cart",
                                            title="t", details={"edges": [["cart", "ghost", 1]]})])
    assert g.callees("checkout") == ["cart", "payment"] and g.callers("db-api") == ["cart", "payment"]
    assert g.calls[("cart", "db-api")] == 55  # repeated edges add up
    assert "ghost" not in g and ("cart", "cart") not in g.calls  # self-calls dropped, other kinds ignored
    assert g.entries() == ["gateway"]  # x and y call each other: neither is an entry


def test_without_a_topology_finding_there_are_no_edges_and_walks_stay_put() -> None:
    g = ServiceGraph.from_findings([])
    assert not g and g.nodes == set() and g.entries() == []
    assert g.downstream("payment") == set() and g.path_up("payment", ["gateway"]) == ["payment"]
    assert g.targets("frontend") == [] and g.path_to_alert("payment", "frontend") == ["payment"]


def test_downstream_and_upstream_are_transitive_and_survive_cycles() -> None:
    g = graph()
    assert g.downstream("gateway") == {"cart", "checkout", "payment", "db-api"}
    assert g.upstream("db-api") == {"cart", "payment", "checkout", "gateway"}
    assert g.downstream("x") == {"y"} and g.upstream("x") == {"y"}
    # through: walks continue only past services that pass (the ones reached are still included)
    assert g.downstream("gateway", through=lambda s: s != "checkout") == {"cart", "checkout", "db-api"}


def test_the_alert_lands_on_its_service_or_on_the_entries_the_frontend_fronts() -> None:
    g = graph()
    assert g.targets("checkout") == ["checkout"]
    assert g.targets("frontend") == ["gateway"] and g.targets("") == ["gateway"]
    assert g.path_to_alert("db-api", "frontend") == ["db-api", "cart", "gateway", "frontend"]
    assert g.path_to_alert("db-api", "checkout") == ["db-api", "cart", "checkout"]
    assert g.path_to_alert("gateway", "frontend") == ["gateway", "frontend"]
    assert g.path_to_alert("checkout", "checkout") == ["checkout"]
    assert g.path_to_alert("x", "frontend") == ["x"] and not g.reaches("x", "frontend")
    assert g.reaches("db-api", "frontend") and not g.reaches("gateway", "payment")
    # the frontend the traces do not show is put in front of the entries, as their caller
    fronted = g.fronted_by("frontend")
    assert fronted.callers("gateway") == ["frontend"] and fronted.entries() == ["frontend"]
    assert fronted.path_to_alert("db-api", "frontend") == ["db-api", "cart", "gateway", "frontend"]
    assert g.fronted_by("checkout") is g and not ServiceGraph().fronted_by("frontend")


def test_the_path_prefers_services_that_show_something() -> None:
    g = graph()
    # two shortest routes from db-api to checkout: via cart (name order) or via payment
    assert g.path_up("db-api", ["checkout"]) == ["db-api", "cart", "checkout"]
    assert g.path_up("db-api", ["checkout"], prefer=lambda s: 0.9 if s == "payment" else 0.0) == \
        ["db-api", "payment", "checkout"]
    # only through anomalous services, when such a route exists; else any route
    assert g.path_up("db-api", ["gateway"], through=lambda s: s in ("payment", "checkout")) == \
        ["db-api", "payment", "checkout", "gateway"]
    assert g.path_up("db-api", ["gateway"], through=lambda s: False) == ["db-api", "cart", "gateway"]


def test_the_order_edges_arrive_in_changes_nothing() -> None:
    reference = graph()
    for seed in range(5):
        shuffled = list(EDGES)
        random.Random(seed).shuffle(shuffled)
        g = graph(shuffled)
        for s in sorted(reference.nodes):
            assert g.callers(s) == reference.callers(s) and g.callees(s) == reference.callees(s)
            assert g.path_to_alert(s, "frontend") == reference.path_to_alert(s, "frontend")
            assert g.downstream(s) == reference.downstream(s)
