"""A test's hand on the bus: it plays the other services' part for the orchestrator's
integration tests — records every command the orchestrator sends (the shared
:class:`~fixtures.recorder.BusRecorder` on ``autorke.cmd.>``) and publishes the executor's and
inventory's result events as those services would. Runs its own event loop in a thread so
that synchronous tests (TestClient) can use it."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from autorke_common.catalogue import Message
from autorke_common.catalogue.executor import ExecutorRun, JobFinished, TargetFinished, TargetSummary
from autorke_common.envelope import Envelope
from fixtures.recorder import BusRecorder
from fixtures.waiting import wait


class BusDriver:
    def __init__(self, url: str) -> None:
        self.url = url
        self.recorder = BusRecorder(url, ("autorke.cmd.>", "autorke.events.orchestrator.>"))

    def _of(self, prefix: str) -> list[Envelope]:
        return [Envelope.model_validate(json.loads(data)) for subject, data in self.recorder.raw_snapshot()
                if subject.startswith(prefix)]

    @property
    def commands(self) -> list[Envelope]:
        """Every command the orchestrator sent, in order."""
        return self._of("autorke.cmd.")

    @property
    def events(self) -> list[Envelope]:
        """Every orchestrator event, in order."""
        return self._of("autorke.events.orchestrator.")

    def close(self) -> None:
        self.recorder.close()

    # -- reading ------------------------------------------------------------------------
    def runs(self, change_id: str | None = None) -> list[ExecutorRun]:
        envs = [e for e in self.commands if e.type == ExecutorRun.TYPE]
        runs = [ExecutorRun.model_validate(e.data) for e in envs]
        return [r for r in runs if change_id is None or r.change_id == change_id]

    def inventory_commands(self, change_id: str) -> list[Envelope]:
        return [e for e in self.commands if e.type.startswith("inventory.") and e.correlation_id == change_id]

    def event_types(self, change_id: str) -> list[str]:
        return [e.type for e in self.events if e.correlation_id == change_id]

    def wait(self, predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
        return wait(predicate, timeout, what, interval=0.05)

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
        self.recorder.publish(env)

    def finish(self, run: ExecutorRun, failed: dict[str, str] | None = None,
               results: dict[str, dict] | None = None) -> None:
        """Report the job as the executor would: one target.finished per host, then job.finished."""
        failed = failed or {}
        results = results or {}
        # an rke job is one target "rke" (its targets are the endpoints its nodes must be at)
        hosts = ["rke"] if run.kind == "rke" else (
            [t.host for t in run.targets] or list(run.params.get("nodes") or []) or ["kube-api"])
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
