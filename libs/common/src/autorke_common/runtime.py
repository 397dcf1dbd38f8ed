"""A service's moving parts in one object: its database (with outbox), its bus
connection, the outbox relay, its consumers and its periodic tasks — started and stopped
together by the app's lifespan. ``bootstrap.create_app`` in each service builds one."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.engine import Connection

from autorke_common.bus import Bus, ConsumerSpec
from autorke_common.db import make_engine, migrate
from autorke_common.exclusive import Exclusive
from autorke_common.logs import configure_logging
from autorke_common.outbox import Database, add_outbox_tables
from autorke_common.relay import OutboxRelay
from autorke_common.settings import ServiceSettings, secret_box
from autorke_common.telemetry import setup_tracing

log = logging.getLogger(__name__)

Periodic = Callable[[], Awaitable[None]]
SyncPeriodic = Callable[[], object]


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, metadata: MetaData, migrations: str | None,
                 configure_process: bool = True, needs_secrets: bool = False) -> None:
        """``migrations`` is the service's Alembic ``package:folder``; ``None`` creates the
        tables straight from ``metadata`` (only for throw-away test services).
        ``configure_process`` sets up logging and tracing (off when tests embed services).
        ``needs_secrets``: the service seals or opens secrets, so its
        :class:`~autorke_common.secrets.SecretBox` (:attr:`secrets`) is built here, and a
        missing ``AUTORKE_SECRET_KEY`` fails the start, not the first secret."""
        self.settings = settings
        self.secrets = secret_box(settings) if needs_secrets else None
        if configure_process:
            configure_logging(settings.service_name, settings.log_level, settings.log_format)
            setup_tracing(settings.service_name, settings.trace_exporter, settings.otlp_endpoint)
        self.metadata = metadata
        self.migrations = migrations
        schema = getattr(settings, "db_schema", None) or settings.service_name
        self.engine = make_engine(settings.resolved_database_url(), schema=schema)
        self.db = Database(self.engine, add_outbox_tables(metadata) if "outbox" not in metadata.tables
                           else _existing_tables(metadata), settings.service_name, settings.claim_threshold_bytes)
        self.bus = Bus(settings.nats_url, settings.service_name, settings.events_max_age_days,
                       credentials=str(settings.nats_credentials) if settings.nats_credentials else None,
                       tls_ca_file=str(settings.nats_tls_ca_file) if settings.nats_tls_ca_file else None,
                       stream_replicas=settings.nats_stream_replicas)
        self.exclusive = Exclusive(self.engine, schema)  # work one replica does at a time
        self.relay = OutboxRelay(self.db, self.bus, lock_name=f"outbox:{schema}",
                                 poll_interval=settings.outbox_poll_interval_s,
                                 published_retention_s=settings.outbox_retention_s,
                                 # longer than the events stream keeps a message (a replay
                                 # from its start still finds every mark)
                                 processed_retention_s=(settings.events_max_age_days + 1) * 86400.0,
                                 claim_retention_s=settings.claim_retention_s)
        self.consumers: list[ConsumerSpec] = []
        self.periodic: list[tuple[float, Periodic]] = []
        self.gauges: list[DbGauge] = []
        #: durable -> JetStream's counts for it, read every CONSUMER_STATS_S (consumer lag)
        self.consumer_stats: dict[str, dict[str, float]] = {}
        self._tasks: list[asyncio.Task] = []
        self.started = False

    def consume(self, spec: ConsumerSpec) -> None:
        self.consumers.append(spec)

    def gauge(self, name: str, documentation: str, read: Callable[[Connection], dict[tuple[str, ...], float]],
              labels: tuple[str, ...] = ()) -> None:
        """A gauge of ``/metrics`` read from the database at each scrape (``read``: label
        values -> value, on a connection of the service's schema)."""
        self.gauges.append(DbGauge(name, documentation, read, labels))

    def every(self, seconds: float, job: Periodic | SyncPeriodic, in_thread: bool = False,
              exclusive: str | None = None) -> None:
        """Run ``job`` every ``seconds`` while the service runs; ``in_thread``: ``job`` is a
        plain function (it talks to the database), run in a worker thread. ``exclusive``
        (with ``in_thread``): a round runs in one replica at a time; a replica that finds
        another's round running skips its own."""
        if in_thread:
            sync = job
            if exclusive:
                plain = sync

                def sync() -> None:
                    with self.exclusive.hold(f"periodic:{exclusive}") as held:
                        if held:
                            plain()

            async def job() -> None:
                await asyncio.to_thread(sync)
            job.__name__ = getattr(sync, "__name__", "job")
        self.periodic.append((seconds, job))  # type: ignore[arg-type]

    async def start(self) -> None:
        if self.migrations:
            await asyncio.to_thread(migrate, self.engine, self.migrations, self.metadata)
        else:
            await asyncio.to_thread(self.metadata.create_all, self.engine)
        await self.bus.connect()
        self.relay.start()
        for spec in self.consumers:
            self.bus.subscribe(spec)
        for seconds, job in self.periodic:
            self._tasks.append(asyncio.create_task(self._repeat(seconds, job)))
        if self.consumers:
            self._tasks.append(asyncio.create_task(self._repeat(CONSUMER_STATS_S, self.read_consumer_stats)))
        self.started = True
        log.info("%s started", self.settings.service_name)

    async def _repeat(self, seconds: float, job: Periodic) -> None:
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic job %s failed", getattr(job, "__name__", job))
            await asyncio.sleep(seconds)

    async def read_consumer_stats(self) -> None:
        """Each of this service's durable consumers as JetStream counts it: messages not yet
        delivered (lag), delivered and not acked, and redelivered."""
        if self.bus.js is None:
            return
        for spec in self.consumers:
            try:
                info = await self.bus.js.consumer_info(spec.stream, spec.durable)
            except Exception as exc:  # noqa: BLE001 - not created yet, NATS away: next round
                log.debug("consumer %s: no counts from JetStream: %s", spec.durable, exc)
                continue
            self.consumer_stats[spec.durable] = {
                "pending": float(info.num_pending or 0), "ack_pending": float(info.num_ack_pending or 0),
                "redelivered": float(info.num_redelivered or 0)}

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.bus.close()
        await self.relay.stop()
        self.engine.dispose()
        self.started = False

    async def readiness(self) -> dict[str, bool]:
        def db_ok() -> bool:
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return True
            except Exception:  # noqa: BLE001
                return False

        return {"database": await asyncio.to_thread(db_ok), "nats": self.bus.connected,
                "started": self.started}

    def register_metrics(self, registry: CollectorRegistry) -> None:
        t = self.db.tables.outbox

        def rows(where) -> Callable[[Connection], dict[tuple[str, ...], float]]:
            return lambda conn: {(): float(conn.execute(select(func.count()).select_from(t).where(where)).scalar()
                                           or 0)}

        own = [DbGauge("autorke_outbox_unpublished", "Outbox rows not yet published",
                       rows(t.c.published_at.is_(None))),
               DbGauge("autorke_outbox_parked", "Outbox rows that can never be published, kept for an operator",
                       rows(t.c.parked_at.is_not(None)))]
        registry.register(DbGauges(self.engine, own + self.gauges))
        registry.register(ConsumerGauges(self))


#: how often the consumers' counts are read from JetStream for /metrics
CONSUMER_STATS_S = 15.0


class ConsumerGauges:
    """Consumer lag and redeliveries of the service's durable consumers (the last counts
    read from JetStream: a scrape never waits on NATS)."""

    METRICS = (("autorke_consumer_pending", "pending", "Messages of the consumer's stream not yet delivered to it"),
               ("autorke_consumer_ack_pending", "ack_pending", "Messages delivered to the consumer and not yet acked"),
               ("autorke_consumer_redelivered", "redelivered", "Messages delivered to the consumer more than once"))

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def describe(self):
        return [GaugeMetricFamily(name, doc, labels=["consumer"]) for name, _, doc in self.METRICS]

    def collect(self):
        stats = dict(self.runtime.consumer_stats)
        for name, key, doc in self.METRICS:
            family = GaugeMetricFamily(name, doc, labels=["consumer"])
            for durable, counts in sorted(stats.items()):
                family.add_metric([durable], counts[key])
            yield family


@dataclass(frozen=True)
class DbGauge:
    name: str
    documentation: str
    read: Callable[[Connection], dict[tuple[str, ...], float]]
    labels: tuple[str, ...] = ()


class DbGauges:
    """A Prometheus collector of gauges read from the database at each scrape, all on one
    connection (a database that cannot be read gives NaN, never a failed scrape)."""

    def __init__(self, engine, gauges: list[DbGauge]) -> None:
        self.engine = engine
        self.gauges = gauges

    def describe(self):
        return [GaugeMetricFamily(g.name, g.documentation, labels=list(g.labels)) for g in self.gauges]

    def collect(self):
        values: dict[str, dict[tuple[str, ...], float]] = {}
        try:
            with self.engine.connect() as conn:
                for g in self.gauges:
                    values[g.name] = g.read(conn)
        except Exception:  # noqa: BLE001 - the scrape still answers
            values = {}
        for g in self.gauges:
            family = GaugeMetricFamily(g.name, g.documentation, labels=list(g.labels))
            found = values.get(g.name)
            if found is None:
                family.add_metric([""] * len(g.labels), float("nan"))
            for label_values, value in (found or {}).items():
                family.add_metric(list(label_values), value)
            yield family


def _existing_tables(metadata: MetaData):
    from autorke_common.outbox import OutboxTables

    return OutboxTables(metadata.tables["outbox"], metadata.tables["processed_messages"], metadata.tables["claims"])
