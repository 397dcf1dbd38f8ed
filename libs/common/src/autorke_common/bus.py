"""The JetStream bus: streams, publishing with server-side de-duplication, and durable
pull consumers with explicit ack, back-off, bounded redelivery and dead letters.

* ``AUTORKE_EVENTS`` (``autorke.events.>``): limits retention, kept for days.
* ``AUTORKE_COMMANDS`` (``autorke.cmd.>``): work-queue retention; one durable consumer per
  command subject, shared by every replica of the owning service.

A handler is ``async def handler(envelope, delivery) -> None``, or a plain ``def`` with
``ConsumerSpec(run_in_thread=True)`` (run in a worker thread, so a handler that talks to
the database never blocks the loop). Returning acks the message; :class:`TemporaryError`
naks it with its delay. A refusal that will never change (:class:`PermanentError`, a
:class:`~autorke_common.errors.Problem` below 500, a domain refusal: see
:func:`~autorke_common.errors.is_permanent`), or any failure on the last allowed delivery,
publishes a ``bus.message.dead_lettered`` event with the refusal's slug and terminates the
message, so a poison message never blocks the ones behind it. Any other exception naks
with the configured back-off. The W3C trace context travels in headers.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client as NATS
from nats.errors import AuthorizationError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StreamConfig
from nats.js.errors import APIError, NotFoundError
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from autorke_common.catalogue.bus import MessageDeadLettered
from autorke_common.envelope import Envelope
from autorke_common.errors import DomainError, Problem, TemporaryError, is_permanent
from autorke_common.natsauth import COMMANDS_STREAM, EVENTS_STREAM, inbox_prefix

__all__ = ["COMMANDS_STREAM", "EVENTS_STREAM", "Bus", "ConsumerSpec", "Delivery"]

log = logging.getLogger(__name__)
tracer = trace.get_tracer("autorke.bus")

DUPLICATE_WINDOW_S = 600.0
_REFUSED = re.compile(r'permissions violation for publish to "([^"]+)"', re.IGNORECASE)


@dataclass
class Delivery:
    """What a handler may want to know about the delivery beyond the envelope."""

    subject: str
    deliveries: int
    stream_seq: int
    headers: dict[str, str]
    _msg: object = field(repr=False, default=None)

    async def in_progress(self) -> None:
        """Tell the server the work goes on (extends the ack wait)."""
        await self._msg.in_progress()  # type: ignore[attr-defined]


Handler = Callable[[Envelope, Delivery], Awaitable[None]]
SyncHandler = Callable[[Envelope, Delivery], None]


@dataclass
class ConsumerSpec:
    durable: str
    subject: str
    handler: Handler | SyncHandler
    stream: str = EVENTS_STREAM
    max_deliver: int = 5
    ack_wait_s: float = 30.0
    backoff_s: tuple[float, ...] = (1.0, 5.0, 15.0, 30.0)
    batch: int = 32
    concurrency: int = 1
    deliver_new_only: bool = False
    #: ``handler`` is a plain function: run it in a worker thread.
    run_in_thread: bool = False


def _same_stream(have: StreamConfig, want: StreamConfig) -> bool:
    return (sorted(have.subjects or []) == sorted(want.subjects or []) and have.retention == want.retention
            and abs((have.max_age or 0) - (want.max_age or 0)) < 1
            and abs((have.duplicate_window or 0) - (want.duplicate_window or 0)) < 1
            and (have.num_replicas or 1) == (want.num_replicas or 1))


def _refusal(error: BaseException) -> str:
    """A permanent failure as the dead letter says it: the slug first when there is one."""
    if isinstance(error, (Problem, DomainError)):
        return f"{error.slug}: {error.detail or error}"
    return str(error)


class Bus:
    def __init__(self, url: str, client_name: str, events_max_age_days: int = 14,
                 credentials: str | None = None, tls_ca_file: str | None = None,
                 stream_replicas: int = 1) -> None:
        """``credentials``: the nkey seed file of the bus user ``client_name`` (see
        :mod:`autorke_common.natsauth`); without it the client connects anonymously, as to
        a bare test server. ``url`` may name several servers of one NATS cluster,
        comma-separated: the client connects to one and fails over to the others.
        ``tls_ca_file``: the CA that signed the server's certificate
        (a ``tls://`` URL)."""
        self.url = url
        self.client_name = client_name
        self.events_max_age_days = events_max_age_days
        self.credentials = credentials
        self.tls_ca_file = tls_ca_file
        self.stream_replicas = stream_replicas  # 3 on a three-node JetStream cluster
        #: subjects the server refused this client to publish, as its errors said them
        #: (nats-py lowercases the server's error text)
        self.refused: set[str] = set()
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task] = []
        self._subs: dict[str, object] = {}
        self._stopping = asyncio.Event()

    # -- connection -------------------------------------------------------------------
    async def connect(self, attempts: int = 60) -> None:
        """Connect (retrying while the server is not up yet) and ensure the streams.
        Afterwards the client reconnects by itself, forever, when the server restarts.
        Refused credentials fail at once (:class:`PermissionError`): no retry fixes them."""
        last: Exception | None = None
        for _ in range(attempts):
            try:
                # one attempt without reconnecting first: the client that reconnects forever
                # would also retry refused credentials forever
                probe = await nats.connect(self.servers, name=self.client_name, allow_reconnect=False,
                                           connect_timeout=2, **self._auth_options())
                await probe.close()
                self.nc = await nats.connect(
                    self.servers,
                    name=self.client_name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    reconnected_cb=self._on_reconnected,
                    disconnected_cb=self._on_disconnected,
                    **self._auth_options(),
                )
                break
            except Exception as exc:  # noqa: BLE001 - the server is not there yet
                if isinstance(exc, AuthorizationError) or "authorization violation" in str(exc).lower():
                    raise PermissionError(f"NATS at {self.url} refused the credentials of {self.client_name!r} "
                                          f"({self.credentials or 'none given'}): {exc}") from None
                last = exc
                await asyncio.sleep(0.5)
        else:
            raise ConnectionError(f"NATS at {self.url} unreachable: {last}")
        self.js = self.nc.jetstream()
        await self.ensure_streams()

    @property
    def servers(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]

    def _auth_options(self) -> dict:
        options: dict = {}
        if self.credentials:
            # each user reads only its own replies (the server allows it _INBOX_<user>.> only)
            options.update(nkeys_seed=str(self.credentials), inbox_prefix=inbox_prefix(self.client_name))
        if self.tls_ca_file:
            options["tls"] = ssl.create_default_context(cafile=str(self.tls_ca_file))
        return options

    @property
    def connected(self) -> bool:
        return bool(self.nc and self.nc.is_connected)

    async def _on_error(self, exc: Exception) -> None:
        refused = _REFUSED.search(str(exc))
        if refused:  # a subject this user may not use: a bug in the table or an intruder
            self.refused.add(refused.group(1))
            log.error("nats refused %s: %s", self.client_name, exc)
        elif isinstance(exc, AuthorizationError) or "violation" in str(exc).lower():
            log.error("nats refused %s: %s", self.client_name, exc)
        else:
            log.debug("nats error: %s", exc)

    async def _on_disconnected(self) -> None:
        if not self._stopping.is_set():
            log.warning("nats disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats reconnected")
        with contextlib.suppress(Exception):
            await self.ensure_streams()

    async def ensure_streams(self) -> None:
        assert self.js is not None
        await self._ensure(
            StreamConfig(
                name=EVENTS_STREAM,
                subjects=["autorke.events.>"],
                retention=RetentionPolicy.LIMITS,
                max_age=self.events_max_age_days * 86400.0,
                duplicate_window=DUPLICATE_WINDOW_S,
                num_replicas=self.stream_replicas,
            )
        )
        await self._ensure(
            StreamConfig(
                name=COMMANDS_STREAM,
                subjects=["autorke.cmd.>"],
                retention=RetentionPolicy.WORK_QUEUE,
                duplicate_window=DUPLICATE_WINDOW_S,
                num_replicas=self.stream_replicas,
            )
        )

    async def _ensure(self, cfg: StreamConfig) -> None:
        """Create the stream when it is missing, and bring its configuration to ours when it
        differs. Only the user owning the streams may change one (natsauth): another's
        refused update is logged and the stream is used as it is."""
        assert self.js is not None
        try:
            info = await self.js.stream_info(cfg.name)
        except NotFoundError:
            await self.js.add_stream(cfg)
            return
        if _same_stream(info.config, cfg):
            return
        try:
            await self.js.update_stream(cfg)
        except (NatsTimeout, TimeoutError, APIError) as exc:
            log.warning("stream %s: configuration differs from %s's and was not changed (%s)",
                        cfg.name, self.client_name, exc or type(exc).__name__)

    # -- publishing -------------------------------------------------------------------
    async def publish(self, envelope: Envelope, timeout: float = 5.0) -> bool:
        """Publish an envelope now (outside any transaction: most code emits through the
        outbox instead). Returns False when the server dropped it as a duplicate."""
        headers: dict[str, str] = {}
        propagate.inject(headers)
        return await self.publish_raw(envelope.subject, envelope.to_bytes(), envelope.id, headers, timeout)

    async def publish_raw(
        self, subject: str, payload: bytes, msg_id: str, headers: dict[str, str], timeout: float = 5.0
    ) -> bool:
        if self.js is None:
            raise ConnectionError("bus not connected")
        try:
            ack = await self.js.publish(
                subject, payload, timeout=timeout, headers={**headers, "Nats-Msg-Id": msg_id}
            )
        except (NatsTimeout, TimeoutError):
            # a refused publish is dropped by the server, so no ack comes: say why
            if subject.lower() in self.refused:
                raise PermissionError(f"NATS refused {self.client_name!r} publishing to {subject}") from None
            raise
        return not ack.duplicate

    # -- consuming --------------------------------------------------------------------
    def subscribe(self, spec: ConsumerSpec) -> asyncio.Task:
        """Start a consumer loop in the background; it runs until :meth:`close`."""
        task = asyncio.create_task(self._consume(spec), name=f"consumer:{spec.durable}")
        self._tasks.append(task)
        return task

    async def _pull_subscription(self, spec: ConsumerSpec):
        assert self.js is not None
        config = ConsumerConfig(
            # named too: then the create request's subject carries the name and the filter,
            # which is what the server's permissions allow each user (natsauth)
            name=spec.durable,
            durable_name=spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=spec.ack_wait_s,
            max_deliver=spec.max_deliver,
            filter_subject=spec.subject,
            deliver_policy=DeliverPolicy.NEW if spec.deliver_new_only else DeliverPolicy.ALL,
            max_ack_pending=max(spec.batch * 4, 100),
        )
        return await self.js.pull_subscribe(spec.subject, durable=spec.durable, stream=spec.stream, config=config)

    async def _consume(self, spec: ConsumerSpec) -> None:
        """Fetch and handle messages until the bus closes. With ``concurrency`` above one,
        each message is handled as its own task and a new fetch asks only for as many as
        there are free slots, so one long handler never holds back the others."""
        sub = None
        in_flight: set[asyncio.Task] = set()
        try:
            while not self._stopping.is_set():
                free = spec.concurrency - len(in_flight)
                if free <= 0:
                    await asyncio.wait(in_flight, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    if sub is None:
                        sub = await self._pull_subscription(spec)
                        self._subs[spec.durable] = sub
                    batch = spec.batch if spec.concurrency == 1 else min(spec.batch, free)
                    msgs = await sub.fetch(batch=batch, timeout=1.0)
                except (NatsTimeout, TimeoutError):  # nothing to fetch (nats-py raises either)
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - disconnected, consumer gone after a reset
                    log.warning("consumer %s: fetch failed (%s); retrying", spec.durable, exc)
                    sub = None
                    await asyncio.sleep(0.5)
                    continue
                if spec.concurrency == 1:
                    for msg in msgs:
                        await self._dispatch(spec, msg)
                    continue
                for msg in msgs:
                    task = asyncio.create_task(self._dispatch(spec, msg))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
        finally:
            if in_flight:  # finish (and ack) what is in hand
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _dispatch(self, spec: ConsumerSpec, msg) -> None:
        headers = dict(msg.headers or {})
        deliveries = msg.metadata.num_delivered
        try:
            envelope = Envelope.from_bytes(msg.data)
        except Exception as exc:  # noqa: BLE001 - undecodable: nothing will ever parse it
            await self._dead_letter(spec, msg, deliveries, f"undecodable envelope: {exc}")
            return
        delivery = Delivery(msg.subject, deliveries, msg.metadata.sequence.stream, headers, msg)
        ctx = propagate.extract(headers)
        with tracer.start_as_current_span(
            f"consume {envelope.type}", context=ctx, kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "nats", "messaging.destination.name": msg.subject,
                        "messaging.message.id": envelope.id, "autorke.consumer": spec.durable},
        ):
            try:
                if spec.run_in_thread:
                    await asyncio.to_thread(spec.handler, envelope, delivery)
                else:
                    await spec.handler(envelope, delivery)  # type: ignore[misc]
            except Exception as exc:  # noqa: BLE001 - handler failures are the bus's to route
                if is_permanent(exc):
                    await self._dead_letter(spec, msg, deliveries, f"permanent: {_refusal(exc)}", envelope.id)
                    return
                if deliveries >= spec.max_deliver:
                    await self._dead_letter(spec, msg, deliveries, f"{type(exc).__name__}: {exc}", envelope.id)
                    return
                delay = exc.delay if isinstance(exc, TemporaryError) else spec.backoff_s[
                    min(deliveries - 1, len(spec.backoff_s) - 1)]
                log.warning("consumer %s: %s failed (delivery %d), retry in %.1fs: %s",
                            spec.durable, envelope.type, deliveries, delay, exc)
                with contextlib.suppress(Exception):
                    await msg.nak(delay=delay)
                return
        with contextlib.suppress(Exception):
            await msg.ack()

    async def _dead_letter(self, spec: ConsumerSpec, msg, deliveries: int, error: str,
                           message_id: str | None = None) -> None:
        event = MessageDeadLettered(
            consumer=spec.durable, stream=spec.stream, subject=msg.subject,
            message_id=message_id, deliveries=deliveries, error=error[:2000],
            payload=msg.data[:8192].decode(errors="replace"),
        )
        env = Envelope.of(event, source=self.client_name,
                          id=f"dlq-{spec.durable}-{msg.metadata.sequence.stream}")
        try:
            await self.publish(env)
        except Exception as exc:  # noqa: BLE001 - keep the message until the DLQ event is out
            log.error("consumer %s: dead-letter publish failed (%s); will retry", spec.durable, exc)
            with contextlib.suppress(Exception):
                await msg.nak(delay=1.0)
            return
        log.error("consumer %s: dead-lettered %s after %d deliveries: %s",
                  spec.durable, msg.subject, deliveries, error)
        with contextlib.suppress(Exception):
            await msg.term()

    # -- shutdown ---------------------------------------------------------------------
    async def close(self, grace_s: float = 10.0) -> None:
        """Stop consuming — a message in hand is finished and acked first, up to
        ``grace_s`` — then drain the connection so nothing published is lost."""
        self._stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._tasks.clear()
        # nats-py's drain waits out its whole timeout on a pull subscription that has
        # fetched; unsubscribing first lets it finish at once (nothing is in hand now).
        for sub in self._subs.values():
            with contextlib.suppress(Exception):
                await sub.unsubscribe()  # type: ignore[attr-defined]
        self._subs.clear()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()
