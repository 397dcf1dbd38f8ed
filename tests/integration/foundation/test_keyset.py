"""The keyset cursor against a real database (PostgreSQL when AUTORKE_TEST_DATABASE_URL is
set): pages walked to the end show every row once, rows sharing a sort key included, in
both directions."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, DateTime, MetaData, String, Table, insert, select

from autorke_common.db import keyset, make_engine
from autorke_common.rest import Cursor, page_of


@pytest.mark.parametrize("descending", [False, True])
def test_pages_show_every_row_once_even_when_sort_keys_tie(database, descending):
    url, schema = database
    engine = make_engine(url, schema=schema)
    meta = MetaData()
    rows = Table("rows", meta, Column("id", String, primary_key=True), Column("at", DateTime(timezone=True)))
    meta.create_all(engine)
    same = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    ids = [f"r{i:02d}" for i in range(23)]
    data = [{"id": i, "at": same if n < 15 else datetime(2026, 12, 2, 13, n, tzinfo=UTC)} for n, i in enumerate(ids)]
    with engine.begin() as conn:  # 15 rows share one timestamp, as changes made in one burst do
        conn.execute(insert(rows), data)
    seen: list[str] = []
    after = None
    with engine.connect() as conn:
        for _ in range(10):
            got = conn.execute(keyset(select(rows), rows.c.at, rows.c.id, after, 4, descending)).all()
            page = page_of(got, 4, key=lambda r: (r.at, r.id), sort="at", view=lambda r: r.id)
            seen += page.items
            if page.next_cursor is None:
                break
            after = Cursor.decode(page.next_cursor, "at")
    engine.dispose()
    expected = [d["id"] for d in sorted(data, key=lambda d: (d["at"], d["id"]), reverse=descending)]
    assert seen == expected, "every row once, ties ordered by id"
