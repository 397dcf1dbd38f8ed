"""Bus subscriptions: the orchestrator's commands (shared durable, work queue) and the
executor's results for the jobs the inventory asked for. Handlers are synchronous
(database work): the bus runs them in a worker thread."""
from __future__ import annotations

from autorke_common.bus import COMMANDS_STREAM, EVENTS_STREAM, ConsumerSpec, Delivery
from autorke_common.envelope import Envelope
from autorke_common.runtime import ServiceRuntime
from autorke_inventory.entrypoints.deps import InventoryServices
from autorke_inventory.service_layer.handlers import CONSUMER


def subscribe(runtime: ServiceRuntime, services: InventoryServices) -> None:
    def on_command(env: Envelope, _: Delivery) -> None:
        services.commands.handle(env)

    def on_executor(env: Envelope, _: Delivery) -> None:
        services.results.handle(env)

    settings = runtime.settings
    runtime.consume(ConsumerSpec(durable=CONSUMER, subject="autorke.cmd.inventory.>",
                                 handler=on_command, run_in_thread=True, stream=COMMANDS_STREAM,
                                 max_deliver=settings.bus_max_deliver,
                                 backoff_s=tuple(settings.bus_retry_backoff_s)))
    # one durable for both executor results keeps them in order (target before job) and
    # handled one at a time
    runtime.consume(ConsumerSpec(durable="inventory-executor-results",
                                 subject="autorke.events.executor.*.finished",
                                 handler=on_executor, run_in_thread=True, stream=EVENTS_STREAM,
                                 max_deliver=settings.bus_max_deliver,
                                 backoff_s=tuple(settings.bus_retry_backoff_s),
                                 deliver_new_only=True))
