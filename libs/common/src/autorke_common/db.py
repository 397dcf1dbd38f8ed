"""Database helpers: engines for PostgreSQL and SQLite, one schema (or file) per service,
Alembic migrations run at start-up, and the service's table registry.

Each service declares its tables on its own SQLModel base so that two services loaded in
one process (as in tests) never share a MetaData::

    from sqlalchemy.orm import registry
    class Table(SQLModel, registry=registry()): ...
    class Machine(Table, table=True): ...

On PostgreSQL every service lives in its own schema (``search_path``), so the services may
share one database without ever reading each other's tables. On SQLite (the embedded
default) each service has its own file, in WAL mode so readers never block the writer.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, MetaData, Select, and_, create_engine, event, or_, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

_SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # fullmatch: no trailing newline


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, schema: str | None = None, pool_size: int = 10) -> Engine:
    """An engine for ``url``; on PostgreSQL confined to ``schema`` (created if missing)."""
    if is_sqlite(url):
        db_path = make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine

    url_obj = make_url(url)
    if url_obj.drivername == "postgresql":
        url_obj = url_obj.set(drivername="postgresql+psycopg")
    connect_args = {}
    if schema:
        if not _SCHEMA_RE.fullmatch(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        connect_args["options"] = f"-csearch_path={schema}"
    engine = create_engine(  # hide_parameters: an error's text (logged) never carries a row's values
        url_obj, pool_pre_ping=True, pool_size=pool_size, max_overflow=20, connect_args=connect_args,
        hide_parameters=True,
    )
    if schema:
        with engine.begin() as conn:
            # replicas starting together: CREATE SCHEMA IF NOT EXISTS is not safe against a
            # concurrent one (a unique violation on pg_namespace), so they take turns
            _advisory_xact_lock(conn, f"schema:{schema}")
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


def serialize(session: Session, name: str) -> None:
    """From here to the end of the session's transaction, no other transaction that
    serializes on ``name`` runs beside this one: a check-then-write of two transactions that
    must see each other (one holds a record for the other to find, the other looks for it)
    cannot both miss. Call it before the transaction reads what it decides on.

    PostgreSQL: a transaction-level advisory lock on the name (released at commit or
    rollback). SQLite: the write lock taken now (``BEGIN IMMEDIATE``), which every writer
    needs; so the reads that follow see every commit before it."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        if not conn.connection.driver_connection.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    _advisory_xact_lock(conn, name)


def _advisory_xact_lock(conn: Connection, name: str) -> None:
    """PostgreSQL: wait for the transaction-level advisory lock on ``name`` (held to commit
    or rollback). Elsewhere (SQLite, one process) nothing."""
    if conn.dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"autorke-serialize:{name}".encode()).digest()
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest[:8], "big", signed=True)})


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A savepoint inside the session's transaction: what it wrote is undone on an error
    raised inside it, and kept (uncommitted) otherwise — the caller's commit decides.

    Use this, not ``session.begin_nested()``, for an all-or-nothing part of a unit of work.
    On SQLite the driver opens no transaction before a ``SAVEPOINT`` (only before a data
    change), so a savepoint that came first in a unit became the outermost transaction and
    its release committed it on its own: a unit that failed afterwards kept half its work.
    Here the outer transaction is opened first, as ``BEGIN IMMEDIATE`` (the unit is about
    to write, so it takes the write lock now, waiting up to the busy timeout, instead of
    failing on a lock upgrade later)."""
    conn = session.connection()
    if conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    with session.begin_nested():
        yield


def add_once(session: Session, row: Any) -> bool:
    """Insert ``row`` now unless its key is taken (another replica, an earlier delivery got
    there first): False, and nothing written. A savepoint keeps the transaction usable."""
    try:
        with savepoint(session):
            session.add(row)
    except IntegrityError:
        return False
    return True


def migrate(engine: Engine, script_location: str, metadata: MetaData) -> None:
    """Bring the schema to the newest Alembic revision in ``script_location``
    (``package:folder``). The service's ``env.py`` calls :func:`run_alembic_env`.
    Replicas of a service starting together migrate one after the other (an advisory lock
    for the migration's transaction): the later ones find the schema at head."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    with engine.begin() as conn:
        _advisory_xact_lock(conn, f"migrate:{script_location}")
        cfg.attributes["connection"] = conn
        cfg.attributes["target_metadata"] = metadata
        command.upgrade(cfg, "head")


def run_alembic_env() -> None:
    """The body of every service's ``migrations/env.py``: online mode on the connection
    :func:`migrate` passes in (offline SQL generation is not used)."""
    from alembic import context

    conn = context.config.attributes["connection"]
    context.configure(
        connection=conn,
        target_metadata=context.config.attributes["target_metadata"],
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def keyset(stmt: Select, key: ColumnElement, ident: ColumnElement, after: Any | None, limit: int,
           descending: bool = False) -> Select:
    """``stmt`` ordered by (``key``, ``ident``), starting strictly after the row of the
    :class:`~autorke_common.rest.Cursor` ``after`` (None: the first page), with one row more
    than ``limit`` (so :func:`~autorke_common.rest.page_of` knows whether a next page exists).
    Rows that share a sort key are ordered by id, so none is skipped or shown twice."""
    if after is not None:
        if descending:
            stmt = stmt.where(or_(key < after.key, and_(key == after.key, ident < after.id)))
        else:
            stmt = stmt.where(or_(key > after.key, and_(key == after.key, ident > after.id)))
    order = (key.desc(), ident.desc()) if descending else (key.asc(), ident.asc())
    return stmt.order_by(*order).limit(limit + 1)
