"""The list of changes pages on (created_at, id), newest first, on the real database: changes
created at the same instant are each listed once across pages (the old cursor, a change id
compared with ``created_at <``, skipped the cursor row's twins), and a cursor this API did
not give out is refused with 400 ``invalid-cursor`` (it used to be ignored: page one again)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from autorke_common.db import make_engine, migrate
from autorke_common.errors import Problem
from autorke_common.outbox import Database
from autorke_orchestrator.adapters.orm import metadata, outbox_tables
from autorke_orchestrator.adapters.unit_of_work import OrchestratorUnitOfWork
from autorke_orchestrator.domain.model import Change
from autorke_orchestrator.service_layer import views
from fixtures.signing import signer

from .conftest import Orchestrator

AT = datetime(2026, 12, 1, 9, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
def db(database) -> Iterator[Database]:
    url, schema = database
    engine = make_engine(url, schema)
    migrate(engine, "autorke_orchestrator:migrations", metadata)
    yield Database(engine, outbox_tables)
    engine.dispose()


def store(db: Database, change_id: str, created_at: datetime, status: str = "running") -> None:
    change = Change(id=change_id, type="node.add", cluster="c1", targets=["n1"], params={}, requested_by="alice",
                    policy="manual", steps=[], blast_hosts=["n1"], blast_components=[], status=status,
                    created_at=created_at, updated_at=created_at)
    with OrchestratorUnitOfWork(db, signer()) as uow:
        uow.changes.save(change)
        uow.commit()


def every_page(db: Database, limit: int, status: str | None = None) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = views.list_changes(OrchestratorUnitOfWork(db, signer()), status, None, limit, cursor)
        pages.append([item["id"] for item in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_changes_sharing_a_created_at_are_all_listed_across_pages_exactly_once(db: Database):
    twins = [f"chg-twin-{i}" for i in range(7)]
    for change_id in twins:
        store(db, change_id, AT)
    store(db, "chg-older", AT.replace(microsecond=0))
    store(db, "chg-newer", AT.replace(second=1))

    for limit in (1, 2, 3, 4, 10):
        pages = every_page(db, limit)
        listed = [i for page in pages for i in page]
        assert listed == ["chg-newer", *sorted(twins, reverse=True), "chg-older"], limit
        assert all(len(page) <= limit for page in pages) and pages[-1], limit


def test_the_filter_holds_on_every_page(db: Database):
    for i in range(5):
        store(db, f"chg-run-{i}", AT, "running")
        store(db, f"chg-done-{i}", AT, "succeeded")
    assert [i for page in every_page(db, 2, "succeeded") for i in page] == [f"chg-done-{i}" for i in range(4, -1, -1)]


def test_a_cursor_not_given_out_is_refused(db: Database):
    store(db, "chg-a", AT)
    store(db, "chg-b", AT)
    for bogus in ("chg-a", "not base64!", "eyJ4IjogMX0"):  # a change id (the old cursor), junk, other JSON
        with pytest.raises(Problem) as refused:
            views.list_changes(OrchestratorUnitOfWork(db, signer()), None, None, 1, bogus)
        assert (refused.value.status, refused.value.slug, refused.value.extensions) == (
            400, "invalid-cursor", {"field": "cursor"}), bogus


def test_the_api_lists_items_and_refuses_a_bad_cursor(orch: Orchestrator):
    o, viewer = orch, orch.headers("viewer")
    created = [o.create(type="node.add", cluster=o.rke2, targets=[f"{o.tag}f00{i}"], params={"role": "worker"})
               for i in (1, 2, 3)]
    assert all(r.status_code == 201 for r in created), [r.text for r in created]
    first = o.client.get("/api/v1/changes", params={"limit": 2}, headers=viewer).json()
    second = o.client.get("/api/v1/changes", params={"limit": 2, "cursor": first["next_cursor"]},
                          headers=viewer).json()
    assert second["next_cursor"] is None
    assert sorted(c["id"] for c in first["items"] + second["items"]) == sorted(r.json()["id"] for r in created)
    assert set(first["items"][0]) == {"id", "type", "status", "cluster", "targets", "requested_by", "open",
                                      "created_at"}
    bad = o.client.get("/api/v1/changes", params={"cursor": created[0].json()["id"]}, headers=viewer)
    assert bad.status_code == 400 and bad.json()["type"].endswith("/invalid-cursor"), bad.text
