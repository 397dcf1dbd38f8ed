"""The transactional outbox and the processed-message inbox.

A state change and the events it causes commit in one database transaction: the unit of
work writes the events into the ``outbox`` table beside the change, and the relay
(:mod:`autorke_common.relay`) publishes them afterwards — at least once, in the order they
were written. A consumer records each message id it handled in ``processed_messages`` in
the same transaction as its effect, so a redelivered message has no second effect.

Both tables are added to the service's own MetaData by :func:`add_outbox_tables`; the
service's first migration creates them with :func:`create_outbox_tables_op`. A third,
``claims``, keeps the sealed values the service's messages name by reference
(:mod:`autorke_common.claims`), written in the unit of work of the message.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from opentelemetry import propagate
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from autorke_common.db import savepoint
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import PermanentError

BigId = BigInteger().with_variant(Integer, "sqlite")
#: Dialects with ``INSERT … ON CONFLICT DO NOTHING`` (others mark inside a savepoint).
_UPSERT = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}


@dataclass(frozen=True)
class OutboxTables:
    outbox: Table
    processed: Table
    claims: Table


def _columns() -> tuple[list[Column], list[Any]]:
    outbox_cols = [
        Column("seq", BigId, primary_key=True, autoincrement=True),
        Column("id", String(64), nullable=False, unique=True),
        Column("subject", String(255), nullable=False),
        Column("aggregate", String(255), nullable=True),
        Column("payload", Text, nullable=False),
        Column("headers", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
    ]
    processed_cols = [
        Column("consumer", String(128), nullable=False),
        Column("message_id", String(64), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("consumer", "message_id"),
    ]
    return outbox_cols, processed_cols


def _parking_columns() -> list[Column]:
    """Added after the first revision (H7): a row that can never be published is *parked*
    (``published_at`` and ``parked_at`` set, ``park_reason`` why) instead of blocking every
    row after it."""
    return [Column("parked_at", DateTime(timezone=True), nullable=True),
            Column("park_reason", Text, nullable=True)]


def _claims_columns() -> list[Column]:
    """Added after parking (issue 17, claim-check): a sealed value by its digest."""
    return [Column("digest", String(80), primary_key=True),
            Column("sealed", Text, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False)]


def add_outbox_tables(metadata: MetaData) -> OutboxTables:
    outbox_cols, processed_cols = _columns()
    outbox = Table("outbox", metadata, *outbox_cols, *_parking_columns())
    Index("ix_outbox_unpublished", outbox.c.published_at, outbox.c.seq)
    processed = Table("processed_messages", metadata, *processed_cols)
    claims = Table("claims", metadata, *_claims_columns())
    return OutboxTables(outbox, processed, claims)


def create_outbox_tables_op(op: Any) -> None:
    """For a service's first Alembic revision: ``create_outbox_tables_op(op)``."""
    outbox_cols, processed_cols = _columns()
    op.create_table("outbox", *outbox_cols)
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "seq"])
    op.create_table("processed_messages", *processed_cols)


def add_outbox_parking_op(op: Any) -> None:
    """For the revision that adds parking to a service's outbox: ``add_outbox_parking_op(op)``."""
    for column in _parking_columns():
        op.add_column("outbox", column)


def drop_outbox_parking_op(op: Any) -> None:
    """That revision's downgrade."""
    for column in reversed(_parking_columns()):
        op.drop_column("outbox", column.name)


def create_claims_table_op(op: Any) -> None:
    """For the revision that adds claims to a service: ``create_claims_table_op(op)``."""
    op.create_table("claims", *_claims_columns())


def drop_claims_table_op(op: Any) -> None:
    op.drop_table("claims")


#: the largest message a unit of work may emit: NATS's default ``max_payload`` (1 MiB) less
#: room for the headers; the relay parks a row over the server's own limit (H7)
MAX_MESSAGE_BYTES = 1024 * 1024 - 16 * 1024


class MessageTooLarge(PermanentError):
    """An event or command over :data:`MAX_MESSAGE_BYTES`: its unit of work fails."""


#: a sealed value in an event larger than this travels as a claim (AUTORKE_CLAIM_THRESHOLD_BYTES)
CLAIM_THRESHOLD_BYTES = 256 * 1024


class Database:
    """A service's engine, its outbox tables and the signal that wakes the relay; ``name``
    is the service, the holder of the claims its units of work keep."""

    def __init__(self, engine: Engine, tables: OutboxTables, name: str = "autorke",
                 claim_threshold: int = CLAIM_THRESHOLD_BYTES) -> None:
        self.engine = engine
        self.tables = tables
        self.name = name
        self.claim_threshold = claim_threshold
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def on_outbox_written(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(callback)

    def notify_outbox_written(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for cb in listeners:
            cb()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)


class UnitOfWork:
    """The only place that commits. Use as a context manager; anything not committed is
    rolled back on exit::

        with db.unit_of_work() as uow:
            if uow.already_processed("inventory.sync", env.id):
                return
            uow.session.add(machine)
            uow.emit(Envelope.of(MachineAdded(...), source="inventory"), aggregate=machine.id)
            uow.commit()
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.session: Session
        self._emitted = False
        self._outgoing: list[dict] = []

    def __enter__(self) -> Self:
        self.session = Session(self.db.engine, expire_on_commit=False)
        self._outgoing = []
        return self

    def __exit__(self, *exc: object) -> None:
        # Detach what was read first, so rows loaded in a read-only unit stay usable
        # after it ends (a rollback would expire them); then undo anything uncommitted.
        self.session.expunge_all()
        self.session.rollback()
        self.session.close()
        self._outgoing = []  # what an uncommitted unit emitted goes with it

    def emit(self, envelope: Envelope, aggregate: str | None = None) -> None:
        """Queue an event (or command) to be published once this unit commits. The current
        trace context travels with it. The rows are written at :meth:`commit`, all in one
        statement (in emit order: their ``seq`` is the order they are published in)."""
        headers: dict[str, str] = {}
        propagate.inject(headers)
        payload = envelope.model_dump_json()
        if len(payload) > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(f"{envelope.type} {envelope.id} is {len(payload)} bytes, over the bus's limit "
                                  f"of {MAX_MESSAGE_BYTES}: nothing of this unit of work is kept (a large "
                                  "value must travel as a claim: autorke_common.claims)")
        self._outgoing.append({"id": envelope.id, "subject": envelope.subject,
                               "aggregate": aggregate or envelope.correlation_id,
                               "payload": payload, "headers": json.dumps(headers), "created_at": utcnow()})

    def already_processed(self, consumer: str, message_id: str) -> bool:
        """Record that ``consumer`` handles ``message_id`` in this transaction; True when it
        was handled before (the caller then does nothing)."""
        values = {"consumer": consumer, "message_id": message_id, "processed_at": utcnow()}
        return not self._insert_once(self.db.tables.processed, values)

    def claim(self, sealed: str) -> str:
        """Keep ``sealed`` with this unit of work and answer the reference that stands for it
        in a message (:mod:`autorke_common.claims`). Kept once per digest; keeping it again
        renews it, so a value still sent is never purged."""
        from autorke_common.claims import digest_of, reference

        digest = digest_of(sealed)
        table, now = self.db.tables.claims, utcnow()
        dialect = self.session.get_bind().dialect.name
        if dialect in _UPSERT:
            self.session.execute(_UPSERT[dialect](table).values(digest=digest, sealed=sealed, created_at=now)
                                 .on_conflict_do_update(index_elements=[table.c.digest], set_={"created_at": now}))
        elif not self._insert_once(table, {"digest": digest, "sealed": sealed, "created_at": now}):
            self.session.execute(update(table).where(table.c.digest == digest).values(created_at=now))
        return reference(self.db.name, digest)

    def claim_large(self, value: str | None) -> str | None:
        """``value`` as it is, or a claim once it is larger than the service's threshold."""
        from autorke_common.claims import parse

        if value is None or parse(value) is not None or len(value) <= self.db.claim_threshold:
            return value
        return self.claim(value)

    def _insert_once(self, table: Table, values: dict[str, Any]) -> bool:
        """Insert the row unless its key is there already; True when inserted.

        An ``INSERT … ON CONFLICT DO NOTHING``, not a savepoint: on SQLite the driver starts
        no transaction before a SAVEPOINT, so releasing it committed the mark on its own and
        a unit that failed afterwards (``database is locked``) left the message marked as
        handled — its redelivery was then dropped. The plain insert also takes SQLite's write
        lock first, so the rest of the unit waits for the lock instead of failing on it."""
        dialect = self.session.get_bind().dialect.name
        if dialect in _UPSERT:
            key = next(iter(table.primary_key.columns))
            inserted = self.session.execute(  # a row back: inserted now; none: there before
                _UPSERT[dialect](table).values(**values).on_conflict_do_nothing().returning(key)).first()
            return inserted is not None
        try:
            with savepoint(self.session):
                self.session.execute(insert(table).values(**values))
        except IntegrityError:
            return False
        return True

    def commit(self) -> None:
        if self._outgoing:
            rows, self._outgoing = self._outgoing, []
            self.session.execute(insert(self.db.tables.outbox), rows)
            self._emitted = True
        self.session.commit()
        if self._emitted:
            self._emitted = False
            self.db.notify_outbox_written()
