"""A consumer's processed-message mark commits with its effect, or not at all: a unit of
work that fails after marking leaves the message unhandled, so its redelivery does the work
(once). On the real database (SQLite file, or PostgreSQL when configured), with the inner
savepoint a handler's all-or-nothing part uses."""
from __future__ import annotations

import pytest
from sqlalchemy import insert

from autorke_common.db import savepoint

from .probe_service import build_db, effect_count


def test_a_unit_that_fails_after_marking_leaves_the_message_for_its_redelivery(database):
    url, schema = database
    db, effects = build_db(url, schema)
    try:
        with pytest.raises(RuntimeError), db.unit_of_work() as uow:
            assert not uow.already_processed("probe", "msg-1")
            with savepoint(uow.session):
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


def test_a_savepoint_first_in_a_unit_is_undone_with_the_unit(database):
    """A unit whose first write is inside a savepoint (a lock, a membership insert) and
    that fails after it keeps nothing: on SQLite the savepoint must not become the
    outermost transaction, whose release would commit it alone."""
    url, schema = database
    db, effects = build_db(url, schema)
    try:
        with pytest.raises(RuntimeError), db.unit_of_work() as uow:
            with savepoint(uow.session):
                uow.session.execute(insert(effects).values(message_id="msg-2", n=1))
            uow.session.execute(insert(effects).values(message_id="msg-2", n=2))
            raise RuntimeError("the rest of the unit failed")
        assert effect_count(db, effects, "msg-2") == 0

        with db.unit_of_work() as uow:  # and a savepoint that fails leaves the unit usable
            with pytest.raises(RuntimeError), savepoint(uow.session):
                uow.session.execute(insert(effects).values(message_id="msg-3", n=1))
                raise RuntimeError("refused")
            uow.session.execute(insert(effects).values(message_id="msg-3", n=2))
            uow.commit()
        assert effect_count(db, effects, "msg-3") == 1
    finally:
        db.engine.dispose()
