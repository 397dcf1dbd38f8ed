"""Reading machines for the API: one machine by id or hostname, and filtered, sorted,
keyset-paginated lists (the console's Machines page on 10,000 machines).

The cursor is opaque to clients (base64 JSON of the sort column, the last row's sort value
and id); a page never skips or repeats a row while others sync, because it continues
*after* a (value, id) pair instead of at an offset."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from autorke_common.errors import Problem, not_found

from autorke_inventory.adapters.orm import MachineRow, MembershipRow
from autorke_inventory.domain.lifecycle import STATES
from autorke_inventory.domain.roles import ROLES

M = MachineRow.__table__
MEM = MembershipRow.__table__
SORTS = {"hostname": M.c.hostname, "ip": M.c.ip, "rack": M.c.rack, "state": M.c.state,
         "gpu_model": M.c.gpu_model, "cluster": MEM.c.cluster}
#: Up to this many free-text matches, a page is picked from the matches themselves.
FEW_MATCHES = 1000
#: Filters on the membership side: only these need the join to count the matches.
MEMBERSHIP_FILTERS = ("cluster", "role")
MAX_LIMIT = 500


@dataclass(frozen=True)
class MachineFilter:
    cluster: str | None = None
    state: str | None = None
    role: str | None = None
    gpu_model: str | None = None
    rack: str | None = None
    q: str | None = None
    sort: str = "hostname"
    limit: int = 50
    cursor: str | None = None


def bad(detail: str) -> Problem:
    return Problem("invalid-request", "Invalid request", 422, detail)


def find_machine(session: Session, key: str) -> MachineRow:
    """A machine by id or hostname (DESIGN.md: hostname is accepted wherever a machine is
    named)."""
    row = session.get(MachineRow, key)
    if row is None:
        row = session.scalars(select(MachineRow).where(MachineRow.hostname == key)).first()
    if row is None:
        raise not_found("machine", key)
    return row


def _encode(sort: str, value: Any, ident: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort, value, ident]).encode()).decode()


def _decode(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        got_sort, value, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise bad("cursor is not one this service gave out") from None
    if got_sort != sort:
        raise bad("cursor belongs to another sort order")
    return value, ident


def list_machines(session: Session, f: MachineFilter) -> tuple[list[tuple], str | None, int]:
    """(rows of (MachineRow, MembershipRow | None), next cursor, total matching)."""
    if f.sort.lstrip("-") not in SORTS:
        raise bad(f"sort must be one of {', '.join(SORTS)} (prefix '-' for descending)")
    if f.state and f.state not in STATES:
        raise bad(f"unknown state {f.state!r}")
    if f.role and f.role not in ROLES:
        raise bad(f"unknown role {f.role!r}")
    if not 1 <= f.limit <= MAX_LIMIT:
        raise bad(f"limit must be between 1 and {MAX_LIMIT}")
    desc = f.sort.startswith("-")
    sort_column = SORTS[f.sort.lstrip("-")]
    # A NOT NULL column sorts as itself, so its index gives the order and a page reads 51
    # rows; a nullable one sorts as '' for NULL, which no index serves (all matches sorted).
    column = sort_column if _never_null(sort_column) else func.coalesce(sort_column, "")
    conditions = []
    if f.cluster:
        conditions.append(MEM.c.cluster == f.cluster)
    if f.state:
        conditions.append(M.c.state == f.state)
    if f.role:
        conditions.append(MEM.c.roles.like(f"%{f.role}%"))
    if f.gpu_model:
        conditions.append(M.c.gpu_model == f.gpu_model)
    if f.rack:
        conditions.append(M.c.rack == f.rack)
    pattern = None
    if f.q:
        needle = f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{needle}%"
        conditions.append(M.c.search.like(pattern, escape="\\"))
    joined = M.outerjoin(MEM, MEM.c.machine_id == M.c.id)
    # A machine has at most one membership (its primary key), so the join never changes the
    # count; it is needed only to filter on it (counting 10,000 rows through it is 10x slower).
    counted = joined if any(getattr(f, k) for k in MEMBERSHIP_FILTERS) else M
    total = session.execute(select(func.count()).select_from(counted).where(*conditions)).scalar()
    page = list(conditions)
    if pattern is not None and total <= FEW_MATCHES:
        # Few matches (a hostname, an IP): find them in the (search, id) index and sort
        # those, rather than walk the sort order through every row until a page is full.
        matching = M.alias("matching")
        page.append(M.c.id.in_(select(matching.c.id).where(matching.c.search.like(pattern, escape="\\"))))
    if f.cursor:
        value, ident = _decode(f.cursor, f.sort)
        if desc:
            page.append(or_(column < value, and_(column == value, M.c.id < ident)))
        else:
            page.append(or_(column > value, and_(column == value, M.c.id > ident)))
    order = (column.desc(), M.c.id.desc()) if desc else (column.asc(), M.c.id.asc())
    stmt = (select(MachineRow, MembershipRow, column.label("sort_value")).select_from(joined)
            .where(*page).order_by(*order).limit(f.limit + 1))
    rows = session.execute(stmt).all()
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    next_cursor = _encode(f.sort, rows[-1].sort_value, rows[-1][0].id) if more and rows else None
    return [(r[0], r[1]) for r in rows], next_cursor, int(total or 0)


def _never_null(column: Any) -> bool:
    """A column of ``machines`` that can hold no NULL (a membership column can: the outer
    join gives a machine outside every cluster none)."""
    return column.table is M and not column.nullable


def membership_of(session: Session, machine_id: str) -> MembershipRow | None:
    return session.get(MembershipRow, machine_id)
