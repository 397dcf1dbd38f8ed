"""The Machines page (issue 19): hostnames sort naturally (``m2`` before ``m10``) through a
key column kept beside the hostname, with the indexes the filtered sorts read; the free-text
search also finds the OS, vendor, CPU and GPU models. Existing rows get both from what they
hold (the functions are copied here as they were when this ran: a migration must not
change with later code).

Revision ID: 0011
Revises: 0010
"""
import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_DIGITS = re.compile(r"[0-9]+")
_OLD = (("ix_machines_state_hostname", ["state", "hostname"]), ("ix_machines_rack_hostname", ["rack", "hostname"]),
        ("ix_machines_gpu_hostname", ["gpu_model", "hostname"]))
_NEW = (("ix_machines_hostname_key", ["hostname_key", "id"]),
        ("ix_machines_state_hostname_key", ["state", "hostname_key", "id"]),
        ("ix_machines_rack_hostname_key", ["rack", "hostname_key", "id"]),
        ("ix_machines_gpu_hostname_key", ["gpu_model", "hostname_key", "id"]))


def _natural_key(hostname: str) -> str:
    def number(m: re.Match) -> str:
        digits = m.group().lstrip("0") or "0"
        return f"{len(digits):02d}{digits}"
    return _DIGITS.sub(number, hostname.lower())[:400]


def _search(row, data: dict) -> str:
    hw, os_ = data.get("hardware") or {}, data.get("os") or {}
    cpu = hw.get("cpu") if isinstance(hw.get("cpu"), dict) else {}
    parts = [row.id, row.hostname, row.ip, row.rack, row.site, row.gpu_model, data.get("environment"),
             (data.get("owner") or {}).get("team"), os_.get("name"), os_.get("id"), os_.get("version"),
             hw.get("vendor"), hw.get("model"), cpu.get("model")]
    return " ".join(str(p) for p in parts if p).lower()[:600]


def upgrade() -> None:
    with op.batch_alter_table("machines") as batch:
        batch.add_column(sa.Column("hostname_key", sa.String(400), nullable=True))
    conn = op.get_bind()
    machines = sa.table("machines", sa.column("id"), sa.column("hostname"), sa.column("ip"), sa.column("rack"),
                        sa.column("site"), sa.column("gpu_model"), sa.column("cmdb"),
                        sa.column("hostname_key"), sa.column("search"))
    rows = conn.execute(sa.select(machines.c.id, machines.c.hostname, machines.c.ip, machines.c.rack,
                                  machines.c.site, machines.c.gpu_model, machines.c.cmdb)).all()
    updates = []
    for row in rows:
        data = row.cmdb if isinstance(row.cmdb, dict) else json.loads(row.cmdb or "{}")
        updates.append({"_id": row.id, "_key": _natural_key(row.hostname), "_search": _search(row, data or {})})
    if updates:
        conn.execute(machines.update().where(machines.c.id == sa.bindparam("_id"))
                     .values(hostname_key=sa.bindparam("_key"), search=sa.bindparam("_search")), updates)
    with op.batch_alter_table("machines") as batch:
        batch.alter_column("hostname_key", existing_type=sa.String(400), nullable=False)
    for name, _ in _OLD:
        op.drop_index(name, table_name="machines")
    for name, columns in _NEW:
        op.create_index(name, "machines", columns)


def downgrade() -> None:
    for name, _ in _NEW:
        op.drop_index(name, table_name="machines")
    for name, columns in _OLD:
        op.create_index(name, "machines", columns)
    with op.batch_alter_table("machines") as batch:
        batch.drop_column("hostname_key")
