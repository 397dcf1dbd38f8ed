"""The executor's bus subscription: ``autorke.cmd.executor.run`` on the COMMANDS stream,
one durable consumer shared by every executor replica (each job goes to one of them).

The ack wait is the redelivery delay after a crash; a running job keeps extending it
(``in_progress``), so a long job is never delivered twice while its executor lives."""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from pydantic import ValidationError

from autorke_common.bus import COMMANDS_STREAM, ConsumerSpec, Delivery
from autorke_common.catalogue.executor import ExecutorRun
from autorke_common.envelope import Envelope
from autorke_common.errors import PermanentError, TemporaryError
from autorke_executor.service_layer.handlers import RunJob

log = logging.getLogger(__name__)
DURABLE = "executor-run"

#: the handler as bootstrap wires it: (command, stop) -> the job's final status
JobHandler = Callable[[RunJob, threading.Event], str]


class JobConsumer:
    """Hands each delivered ``executor.run`` to the job handler in a worker thread, and
    keeps the delivery alive meanwhile.

    A class because it holds state across deliveries: the ids of the jobs running in this
    process (a second delivery of one of them waits for a redelivery instead of running it
    beside the first) and the ``stop`` event every running job watches. The handler is
    async, not ``ConsumerSpec(run_in_thread=True)``: while the job runs it must extend the
    ack wait (``delivery.in_progress()``) on the bus's event loop."""

    def __init__(self, handler: JobHandler, heartbeat_s: float = 10.0) -> None:
        self.handler = handler
        self.heartbeat_s = heartbeat_s
        self.stop = threading.Event()
        self._running: set[str] = set()
        self._lock = threading.Lock()

    async def __call__(self, envelope: Envelope, delivery: Delivery) -> None:
        cmd = RunJob(parse(envelope), envelope)
        job_id = cmd.job.job_id
        with self._lock:
            if job_id in self._running:
                raise TemporaryError(f"job {job_id} is running in this process", delay=5.0)
            self._running.add(job_id)
        try:
            task = asyncio.ensure_future(asyncio.to_thread(self.handler, cmd, self.stop))
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.heartbeat_s)
                if done:
                    break
                try:
                    await delivery.in_progress()
                except Exception as exc:  # noqa: BLE001 - the job goes on; redelivery is idempotent
                    log.warning("job %s: could not extend the ack wait: %s", job_id, exc)
            task.result()
        finally:
            with self._lock:
                self._running.discard(job_id)


def parse(envelope: Envelope) -> ExecutorRun:
    try:
        return ExecutorRun.model_validate(envelope.data)
    except ValidationError as exc:
        raise PermanentError(f"not an executor.run command: {exc.error_count()} errors: "
                             f"{exc.errors()[0]['msg']}") from None


def run_consumer(consumer: JobConsumer, parallel_jobs: int, ack_wait_s: float, max_deliver: int) -> ConsumerSpec:
    return ConsumerSpec(durable=DURABLE, subject=ExecutorRun.message_subject(), handler=consumer,
                        stream=COMMANDS_STREAM, max_deliver=max_deliver, ack_wait_s=ack_wait_s,
                        batch=parallel_jobs, concurrency=parallel_jobs, backoff_s=(1.0, 5.0, 15.0))
