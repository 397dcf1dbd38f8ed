"""The console's one durable consumer: every platform event into the console's event log
(the Events page's history, the audit view). All replicas share it, so each event is read
by one of them; a redelivery finds it kept already."""
from __future__ import annotations

from collections.abc import Callable

from autorke_common.bus import EVENTS_STREAM, ConsumerSpec, Delivery
from autorke_common.envelope import Envelope
from autorke_console.domain.subjects import EVENTS_ROOT
from autorke_console.service_layer import event_log
from autorke_console.service_layer.unit_of_work import UnitOfWork

DURABLE = "console-event-log"


def event_log_consumer(uow_factory: Callable[[], UnitOfWork]) -> ConsumerSpec:
    def on_event(env: Envelope, _: Delivery) -> None:
        event_log.record(env.model_dump(mode="json"), uow_factory())

    return ConsumerSpec(durable=DURABLE, subject=f"{EVENTS_ROOT}.>", handler=on_event, stream=EVENTS_STREAM,
                        run_in_thread=True, batch=64)
