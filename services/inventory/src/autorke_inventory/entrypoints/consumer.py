"""Bus subscriptions: the orchestrator's commands (shared durable, work queue) and the
executor's results for the jobs the inventory asked for. Handlers are synchronous
(database work), so they run in a thread."""
from __future__ import annotations

import asyncio

from autorke_common.bus import COMMANDS_STREAM, EVENTS_STREAM, ConsumerSpec, Delivery
from autorke_common.envelope import Envelope
from autorke_common.runtime import ServiceRuntime

from autorke_inventory.entrypoints.deps import InventoryServices


def subscribe(runtime: ServiceRuntime, services: InventoryServices) -> None:
    async def on_command(env: Envelope, _: Delivery) -> None:
        await asyncio.to_thread(services.commands.handle, env)

    async def on_executor(env: Envelope, _: Delivery) -> None:
        await asyncio.to_thread(services.results.handle, env)

    settings = runtime.settings
    runtime.consume(ConsumerSpec(durable="inventory-commands", subject="autorke.cmd.inventory.>",
                                 handler=on_command, stream=COMMANDS_STREAM,
                                 max_deliver=settings.bus_max_deliver,
                                 backoff_s=tuple(settings.bus_retry_backoff_s)))
    # one durable for both executor results keeps them in order (target before job) and
    # handled one at a time
    runtime.consume(ConsumerSpec(durable="inventory-executor-results",
                                 subject="autorke.events.executor.*.finished",
                                 handler=on_executor, stream=EVENTS_STREAM,
                                 max_deliver=settings.bus_max_deliver,
                                 backoff_s=tuple(settings.bus_retry_backoff_s),
                                 deliver_new_only=True))
