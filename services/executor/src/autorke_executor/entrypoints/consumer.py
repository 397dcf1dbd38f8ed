"""The executor's bus subscription: ``autorke.cmd.executor.run`` on the COMMANDS stream,
one durable consumer shared by every executor replica (each job goes to one of them).

The ack wait is the redelivery delay after a crash; a running job keeps extending it
(``in_progress``), so a long job is never delivered twice while its executor lives."""
from __future__ import annotations

from autorke_common.bus import COMMANDS_STREAM, ConsumerSpec
from autorke_common.catalogue.executor import ExecutorRun

from autorke_executor.service_layer.jobs import JobRunner

DURABLE = "executor-run"


def run_consumer(runner: JobRunner, parallel_jobs: int, ack_wait_s: float, max_deliver: int) -> ConsumerSpec:
    return ConsumerSpec(durable=DURABLE, subject=ExecutorRun.message_subject(), handler=runner.handle,
                        stream=COMMANDS_STREAM, max_deliver=max_deliver, ack_wait_s=ack_wait_s,
                        batch=parallel_jobs, concurrency=parallel_jobs, backoff_s=(1.0, 5.0, 15.0))
