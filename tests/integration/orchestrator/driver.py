"""A test's hand on the bus: it plays the other services' part for the orchestrator's
integration tests — records every command the orchestrator sends (core NATS subscription
on ``autorke.cmd.>``, which sees JetStream publishes too) and publishes the executor's and
inventory's result events as those services would. Runs its own event loop in a thread so
that synchronous tests (TestClient) can use it."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import nats

from autorke_common.bus import Bus
from autorke_common.catalogue import Message
from autorke_common.catalogue.executor import ExecutorRun, JobFinished, TargetFinished, TargetSummary
from autorke_common.envelope import Envelope


class BusDriver:
    def __init__(self, url: str) -> None:
        self.url = url
        self.commands: list[Envelope] = []
        self.events: list[Envelope] = []
        self._lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.bus = Bus(url, "test-driver")
        self.call(self._start())

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        await self.bus.connect()
        self.nc = await nats.connect(self.url)

        async def on_cmd(msg: Any) -> None:
            with self._lock:
                self.commands.append(Envelope.model_validate(json.loads(msg.data)))

        async def on_event(msg: Any) -> None:
            with self._lock:
                self.events.append(Envelope.model_validate(json.loads(msg.data)))

        await self.nc.subscribe("autorke.cmd.>", cb=on_cmd)
        await self.nc.subscribe("autorke.events.orchestrator.>", cb=on_event)
        await self.nc.flush()

    def close(self) -> None:
        async def stop() -> None:
            await self.nc.close()
            await self.bus.close(grace_s=1)
        try:
            self.call(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    # -- reading ------------------------------------------------------------------------
    def runs(self, change_id: str | None = None) -> list[ExecutorRun]:
        with self._lock:
            envs = [e for e in self.commands if e.type == ExecutorRun.TYPE]
        runs = [ExecutorRun.model_validate(e.data) for e in envs]
        return [r for r in runs if change_id is None or r.change_id == change_id]

    def inventory_commands(self, change_id: str) -> list[Envelope]:
        with self._lock:
            return [e for e in self.commands if e.type.startswith("inventory.") and e.correlation_id == change_id]

    def event_types(self, change_id: str) -> list[str]:
        with self._lock:
            return [e.type for e in self.events if e.correlation_id == change_id]

    def wait(self, predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"{what} not met within {timeout} s")

    def wait_run(self, change_id: str, action: str, attempt: int | None = None, n: int = 1) -> ExecutorRun:
        def find() -> ExecutorRun | None:
            runs = [r for r in self.runs(change_id) if r.action == action
                    and (attempt is None or r.job_id.endswith(f":{attempt}"))]
            return runs[n - 1] if len(runs) >= n else None
        return self.wait(find, what=f"executor.run {action} of {change_id}")

    # -- playing the executor and the inventory -------------------------------------------
    def publish(self, message: Message, correlation_id: str | None = None, extra: dict[str, Any] | None = None,
                **kw: Any) -> None:
        """Publish as the other services would; ``extra`` adds data fields the catalogue
        does not declare (yet), as a newer sender would."""
        env = Envelope.of(message, source="test-driver", correlation_id=correlation_id, **kw)
        env.data.update(extra or {})
        self.call(self.bus.publish(env))

    def finish(self, run: ExecutorRun, failed: dict[str, str] | None = None,
               results: dict[str, dict] | None = None) -> None:
        """Report the job as the executor would: one target.finished per host, then job.finished."""
        failed = failed or {}
        results = results or {}
        hosts = [t.host for t in run.targets] or list(run.params.get("nodes") or []) or (
            ["rke"] if run.kind == "rke" else ["kube-api"])
        summaries = []
        for h in hosts:
            status = "failed" if h in failed else "succeeded"
            self.publish(TargetFinished(job_id=run.job_id, change_id=run.change_id, host=h, status=status,
                                        exit_code=1 if h in failed else 0, duration_s=0.01,
                                        error_class="failed" if h in failed else None, error=failed.get(h),
                                        result=results.get(h, {})), run.change_id)
            summaries.append(TargetSummary(host=h, status=status, error=failed.get(h)))
        overall = "succeeded" if not failed else ("failed" if len(failed) == len(hosts) else "partially_failed")
        self.publish(JobFinished(job_id=run.job_id, change_id=run.change_id, kind=run.kind, action=run.action,
                                 status=overall, targets=summaries, duration_s=0.01), run.change_id)
