"""The executor's gauges on ``/metrics``, read from its tables at each scrape: jobs in
flight, and jobs another executor had to take over (their first owner died: H4)."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from autorke_common.runtime import ServiceRuntime
from autorke_executor.adapters.orm import JobRow


def _count(*where) -> object:
    def read(conn: Connection) -> dict[tuple[str, ...], float]:
        return {(): float(conn.execute(select(func.count()).select_from(JobRow).where(*where)).scalar() or 0)}
    return read


def register(runtime: ServiceRuntime) -> None:
    runtime.gauge("autorke_jobs_running", "Executor jobs running", _count(JobRow.status == "running"))
    runtime.gauge("autorke_jobs_taken_over", "Executor jobs taken over after their executor's lease ran out",
                  _count(JobRow.fencing_token > 1))
