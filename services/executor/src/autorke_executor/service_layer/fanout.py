"""Bounded parallel fan-out of one job over its targets.

At most ``concurrency`` targets are worked on at once, each in its own thread with its
own deadlines (the SSH adapter cuts a hung host off), so one slow host holds one slot and
never the others. The caller gets outcomes as they finish, in small batches, to record
them and emit their events while the rest still run."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from autorke_executor.domain.model import TargetOutcome

T = TypeVar("T")


def fan_out(items: Iterable[T], work: Callable[[T], TargetOutcome], host_of: Callable[[T], str],
            concurrency: int, tick_s: float = 0.25,
            stop: threading.Event | None = None) -> Iterator[list[TargetOutcome]]:
    """Yield lists of finished outcomes (possibly empty, every ``tick_s``, so the caller
    can flush live output) until every item is done."""
    items = list(items)
    if not items:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items))),
                            thread_name_prefix="target") as pool:
        pending: dict[Future, T] = {}
        queue = iter(items)

        def top_up() -> None:
            while len(pending) < concurrency and (stop is None or not stop.is_set()):
                item = next(queue, None)
                if item is None:
                    return
                pending[pool.submit(work, item)] = item

        top_up()
        while pending:
            done, _ = wait(pending, timeout=tick_s, return_when=FIRST_COMPLETED)
            batch = []
            for fut in done:
                item = pending.pop(fut)
                try:
                    batch.append(fut.result())
                except Exception as exc:  # noqa: BLE001 - a bug must fail one target, not the job
                    batch.append(TargetOutcome.failed(host_of(item), "failed",
                                                      f"executor error: {type(exc).__name__}: {exc}"))
            top_up()
            yield batch
