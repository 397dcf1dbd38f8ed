"""The faults of one chaos run, drawn from its seed, and the record of what was done.

A run SIGKILLs one replica of every service and one NATS node, and restarts PostgreSQL
once, each at a random point of the first minutes of the run (``autorke up``'s supervisor
starts a killed child again; the suite restarts PostgreSQL itself). Every action is
logged with the seed and its time, so a failing run can be replayed with
``AUTORKE_CHAOS_SEED``.

The executor's kill waits (a while) for the chosen replica to hold a running job, so the
run shows a takeover: the time from the kill until another replica owns each job the
killed one held is measured from the executor's job rows (their lease owner).
"""
from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("chaos")

SERVICES = ("console", "inventory", "orchestrator", "executor", "netcfg")


@dataclass(frozen=True)
class Fault:
    at: float     # seconds after the run started
    target: str   # a child of autorke up ("executor-1", "nats-2") or "postgres"


def schedule(seed: int, replicas: int, nats_nodes: int, window: tuple[float, float] = (3.0, 35.0)) -> list[Fault]:
    """Every fault at a random point of ``window`` (seconds after the changes were created:
    the run's 20 changes take about a minute here). The executor's kill comes in the first
    part, while its jobs run (it waits for one; the node-status jobs run all the time)."""
    rnd = random.Random(seed)
    faults = [Fault(rnd.uniform(window[0], window[1] * (0.6 if svc == "executor" else 1.0)),
                    f"{svc}-{rnd.randrange(replicas)}") for svc in SERVICES]
    faults.append(Fault(rnd.uniform(*window), f"nats-{rnd.randrange(nats_nodes)}"))
    faults.append(Fault(rnd.uniform(*window), "postgres"))
    return sorted(faults, key=lambda f: f.at)


@dataclass
class Done:
    fault: Fault
    at: float              # wall-clock time (time.time(), as the lab's command logs)
    pid: int | None = None
    detail: str = ""


@dataclass
class Chaos:
    seed: int
    faults: list[Fault]
    children: Path                     # autorke up's children.json
    executor_db: Engine
    restart_postgres: Callable[[], None]
    done: list[Done] = field(default_factory=list)
    takeovers_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 120.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, timeout: float = 600.0) -> None:
        """Until every fault was injected (the run's checks come after the last one)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def finished(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def executor_kills(self) -> list[float]:
        return [d.at for d in self.done if d.fault.target.startswith("executor-")]

    def say(self, message: str) -> None:
        line = f"chaos seed={self.seed} {time.strftime('%H:%M:%S')} {message}"
        log.warning(line)
        print(line, flush=True)

    def _run(self) -> None:
        began = time.monotonic()
        for fault in self.faults:
            if self._stop.wait(max(0.0, fault.at - (time.monotonic() - began))):
                return
            try:
                self._do(fault)
            except Exception as exc:  # noqa: BLE001 - reported by the test, never swallowed
                self.errors.append(f"{fault}: {type(exc).__name__}: {exc}")
                self.say(f"!! {fault.target}: {exc}")

    def _do(self, fault: Fault) -> None:
        if fault.target == "postgres":
            at = time.time()
            self.say("restarting PostgreSQL")
            self.restart_postgres()
            self.done.append(Done(fault, at, detail=f"back after {time.time() - at:.1f} s"))
            self.say(f"PostgreSQL back after {time.time() - at:.1f} s")
            return
        target, held = fault.target, {}
        if target.startswith("executor-"):
            target, held = self._executor_holding_a_job(target)
        pid = json.loads(self.children.read_text())[target]
        os.kill(pid, signal.SIGKILL)
        at = time.time()
        self.done.append(Done(Fault(fault.at, target), at, pid, f"held jobs {sorted(held)}" if held else ""))
        self.say(f"SIGKILL {target} pid={pid}" + (f" holding {sorted(held)}" if held else ""))
        if held:  # measured beside the next faults
            threading.Thread(target=self._measure_takeover, args=(held, at), daemon=True).start()

    def _executor_holding_a_job(self, drawn: str, patience_s: float = 300.0) -> tuple[str, dict[str, str]]:
        """The drawn executor replica once it holds a running job; after 20 s without one,
        whichever replica holds one first (so the run shows a takeover)."""
        began = time.monotonic()
        candidates = [drawn]
        while time.monotonic() - began < patience_s and not self._stop.is_set():
            if time.monotonic() - began > 20.0:
                names = json.loads(self.children.read_text())
                candidates = [drawn] + sorted(n for n in names if n.startswith("executor-") and n != drawn)
            running = self._running_jobs()
            for child in candidates:
                prefix = self._owner_prefix(child)
                held = {j: o for j, o in running.items() if o.startswith(prefix)}
                if held:
                    return child, held
            time.sleep(0.3)
        return drawn, {}

    def _owner_prefix(self, child: str) -> str:
        pid = json.loads(self.children.read_text())[child]
        return f"{socket.gethostname()}:{pid}:"

    def _rows(self, sql: str, **params: object) -> list[tuple]:
        """The query's rows, retried while PostgreSQL restarts."""
        for _ in range(100):
            try:
                with self.executor_db.connect() as conn:
                    return [tuple(r) for r in conn.execute(text(sql), params).all()]
            except DBAPIError:
                time.sleep(0.5)
        raise RuntimeError(f"the executor's database did not answer: {sql}")

    def _running_jobs(self) -> dict[str, str]:
        rows = self._rows("SELECT job_id, owner FROM jobs WHERE status = 'running'")
        return {job: owner or "" for job, owner in rows}

    def _measure_takeover(self, held: dict[str, str], killed_at: float, limit_s: float = 120.0) -> None:
        """Seconds until each job the killed replica held is owned by another (or ended:
        a job can only end under a live owner, so that is a takeover too)."""
        waiting = dict(held)
        while waiting and time.time() - killed_at < limit_s:
            rows = dict(self._rows("SELECT job_id, owner FROM jobs WHERE job_id = ANY(:ids)", ids=list(waiting)))
            for job, owner in list(rows.items()):
                if owner != waiting[job]:
                    self.takeovers_s.append(time.time() - killed_at)
                    self.say(f"job {job} taken over by {owner} after {time.time() - killed_at:.1f} s")
                    del waiting[job]
            time.sleep(0.3)
        for job in waiting:
            self.errors.append(f"job {job} was not taken over within {limit_s:.0f} s")
