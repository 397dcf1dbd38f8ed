"""A consumer's processed-message mark commits with its effect, or not at all: a unit of
work that fails after marking leaves the message unhandled, so its redelivery does the work
(once). On the real database (SQLite file, or PostgreSQL when configured), with the inner
savepoint a handler's all-or-nothing part uses."""
from __future__ import annotations

import pytest
from sqlalchemy import insert

from .probe_service import build_db, effect_count


def test_a_unit_that_fails_after_marking_leaves_the_message_for_its_redelivery(database):
    url, schema = database
    db, effects = build_db(url, schema)
    try:
        with pytest.raises(RuntimeError), db.unit_of_work() as uow:
            assert not uow.already_processed("probe", "msg-1")
            with uow.session.begin_nested():
                uow.session.execute(insert(effects).values(message_id="msg-1", n=1))
            raise RuntimeError("database is locked")  # what a busy SQLite answered here
        assert effect_count(db, effects, "msg-1") == 0

        with db.unit_of_work() as uow:  # the redelivery
            assert not uow.already_processed("probe", "msg-1"), "the failed unit's mark was kept"
            uow.session.execute(insert(effects).values(message_id="msg-1", n=1))
            uow.commit()
        with db.unit_of_work() as uow:  # a duplicate after that
            assert uow.already_processed("probe", "msg-1")
        assert effect_count(db, effects, "msg-1") == 1
    finally:
        db.engine.dispose()
