"""The Summaries contract (shared/ports.py): a summary is overwritten by a fold of as many or more events, never by a
stale one; they list by incident id, and by status as a query; run against every store adapter."""

from __future__ import annotations

import pytest

from shared.ports import EventStore, Summaries


@pytest.fixture()
def views(store: EventStore) -> Summaries:
    """The adapter as the list-view projection it keeps."""
    return store


def test_summaries_are_overwritten_projections(views: Summaries) -> None:
    assert views.summaries() == []
    views.put_summary("b", {"incident_id": "b", "status": "open"})
    views.put_summary("a", {"incident_id": "a", "status": "open", "n": [1, 2.5]})
    views.put_summary("b", {"incident_id": "b", "status": "resolved"})
    assert views.summaries() == [{"incident_id": "a", "status": "open", "n": [1, 2.5]},
                                 {"incident_id": "b", "status": "resolved"}]


def test_a_stale_summary_never_overwrites_a_newer_one(views: Summaries) -> None:
    views.put_summary("i", {"incident_id": "i", "status": "open", "events": 5, "updated_at": 50.0})
    views.put_summary("i", {"incident_id": "i", "status": "open", "events": 3, "updated_at": 90.0})  # fewer events
    views.put_summary("i", {"incident_id": "i", "status": "open", "events": 5, "updated_at": 40.0})  # older
    assert views.summaries() == [{"incident_id": "i", "status": "open", "events": 5, "updated_at": 50.0}]
    views.put_summary("i", {"incident_id": "i", "status": "resolved", "events": 6, "updated_at": 60.0})
    assert views.summaries()[0]["status"] == "resolved"


def test_summaries_can_be_asked_for_by_status(views: Summaries) -> None:
    for incident, status in (("a", "open"), ("b", "resolved"), ("c", "open")):
        views.put_summary(incident, {"incident_id": incident, "status": status, "events": 1, "updated_at": 1.0})
    assert [s["incident_id"] for s in views.summaries(status="open")] == ["a", "c"]
    assert [s["incident_id"] for s in views.summaries(status="resolved")] == ["b"]
    assert views.summaries(status="unknown") == []


def test_summaries_page_newest_first_with_a_cursor(views: Summaries) -> None:
    """The list view reads a page at a time (Firestore keeps 400 days of incidents), the most recently updated
    first; a page's cursor starts the next one, ties on updated_at are kept apart by the row's id."""
    for n in range(7):
        views.put_summary(f"i{n}", {"incident_id": f"i{n}", "status": "open", "events": 1,
                                    "updated_at": float(n // 2)})  # pairs share an updated_at
    seen: list[str] = []
    page, cursor = views.summaries_page(3)
    while True:
        assert len(page) <= 3
        seen += [s["incident_id"] for s in page]
        if not cursor:
            break
        page, cursor = views.summaries_page(3, cursor)
    assert seen[0] == "i6" and sorted(seen) == [f"i{n}" for n in range(7)] and len(seen) == 7
    updated = [n // 2 for n in (int(i[1:]) for i in seen)]
    assert updated == sorted(updated, reverse=True)
    with pytest.raises(ValueError):
        views.summaries_page(3, "not a cursor")
    with pytest.raises(ValueError):
        views.summaries_page(0)


def test_a_filtered_page_holds_only_matches_newest_first(views: Summaries) -> None:
    """The list view's filters (status, service, severity, words) mean the same on every store; paging through a
    filtered list reaches every match once, in order, and nothing else."""
    from shared.paging import ListFilter

    for n in range(12):
        views.put_summary(f"i{n:02d}", {"incident_id": f"i{n:02d}", "status": "open" if n % 2 else "resolved",
                                        "service": "checkout" if n % 3 else "payments", "severity": "CRITICAL",
                                        "policy": "Error rate", "top_cause": f"db pool exhausted #{n}",
                                        "events": 1, "updated_at": float(n)})

    def every(where: ListFilter) -> list[str]:
        seen: list[str] = []
        page, cursor = views.summaries_page(2, "", where)
        while True:
            seen += [s["incident_id"] for s in page]
            if not cursor:
                return seen
            page, cursor = views.summaries_page(2, cursor, where)

    assert every(ListFilter(status="open", service="Checkout")) == ["i11", "i07", "i05", "i01"]
    assert every(ListFilter(severity="critical", text="POOL #3")) == ["i03"]
    assert every(ListFilter(text="no such words")) == []
    assert every(ListFilter(service="payments", status="resolved")) == ["i06", "i00"]
