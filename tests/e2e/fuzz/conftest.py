"""A platform of the fuzz's own (and of the checks made on a running platform from
outside): ``autorke up --no-demo`` with a small lab (its identity provider signs the admin
token, its CMDB and VCalico answer the services), on free ports and a lab address range no
other test uses, so what the fuzzer creates, changes or deletes touches nothing another
test looks at. Stopped by its own PID afterwards (SIGINT, its process group only as a last
resort), the lab address range released."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from autorke_common.platform_env import DEFAULT_PORTS
from autorke_lab.idp import issue_token
from autorke_lab.machines.addresses import lease_free_range
from fixtures.infra import platform_database
from fixtures.processes import descendants, stop_up
from fixtures.waiting import wait

from ..ports import free_offset

SERVICES = ("console", "inventory", "orchestrator", "executor", "netcfg")
#: Enough for the lab to build its two clusters on (the services' reads of them answer).
MACHINES = 4
#: A small CMDB: every ``machines:sync`` the fuzzer sends (``wait: true`` included) reads it all.
CMDB_RECORDS = 200


@dataclass
class FuzzPlatform:
    data_dir: Path
    port: dict[str, int]
    pid: int  # autorke up's

    def service_pids(self) -> dict[str, int]:
        """Service -> the PID of its process (``python -m autorke_<service>``), among autorke
        up's descendants."""
        found: dict[str, int] = {}
        for pid in descendants(self.pid):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            for service in SERVICES:
                if f"autorke_{service}".encode() in argv:
                    found[service] = pid
        return found

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port[service]}"

    def token(self, user: str = "admin") -> str:
        return issue_token(user, self.data_dir / "lab" / "idp")




@pytest.fixture(scope="package")
def fuzz_platform(tmp_path_factory) -> Iterator[FuzzPlatform]:
    with platform_database("fuzz") as db_flags:
        data = tmp_path_factory.mktemp("fuzz") / ".autorke"
        lease = lease_free_range()
        proc: subprocess.Popen | None = None
        try:
            offset = free_offset()
            port = {name: p + offset for name, p in DEFAULT_PORTS.items()}
            log = data.parent / "up.log"
            env = {k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")}
            autorke = Path(sys.executable).parent / "autorke"
            with open(log, "wb") as out:
                proc = subprocess.Popen([str(autorke), "up", "--no-demo", "--data-dir", str(data),
                                         "--port-offset", str(offset), "--machines", str(MACHINES),
                                         "--cmdb-size", str(CMDB_RECORDS), "--lab-address-base", lease.base,
                                         *db_flags],
                                        cwd=data.parent, stdout=out, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)

            def up() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError(f"autorke up exited: {log.read_text()[-3000:]}")
                try:
                    return all(httpx.get(f"http://127.0.0.1:{port[s]}/readyz", timeout=2).status_code == 200
                               for s in SERVICES)
                except httpx.HTTPError:
                    return False
            wait(up, 240, f"every service ready (log: {log})")
            yield FuzzPlatform(data, port, proc.pid)
        finally:
            if proc is not None:
                stop_up(proc)
            lease.release()
