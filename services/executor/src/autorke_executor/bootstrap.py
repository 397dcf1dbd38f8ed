"""The one place where the executor service is wired: settings, runtime, routes, consumers."""
from __future__ import annotations

import functools
import threading
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field, field_validator

from autorke_common import claims, signing
from autorke_common.app import create_service_app
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings
from autorke_executor.adapters.orm import metadata
from autorke_executor.domain.rke2_installer import DEFAULT_INSTALLER_URL, DEFAULT_VERSION, Rke2Installer


class ExecutorSettings(ServiceSettings):
    service_name: str = "executor"
    port: int = 8103
    ssh_key_path: Path = Field(default=Path("~/.ssh/id_ed25519"),
                               description="the executor's own private key for every machine")
    ssh_user: str = Field(default="root", description="login user when a target names none")
    ssh_kex: str = Field(default="", description="key exchanges to offer, comma-separated, in "
                         "order of preference (empty: adapters.ssh.DEFAULT_KEX)")
    rke_binary: str = Field(default="rke", description="the RKE1 binary (lab: autorke-lab-rke)")
    rke2_install_command: str | None = Field(
        default=None, description="run on a node to install the RKE2 agent, as it is (the lab's installer); "
                                  "default: the pinned installer below, checked against its SHA-256")
    rke2_version: str = Field(default=DEFAULT_VERSION, description="the RKE2 release a node installs")
    rke2_installer_url: str = Field(default=DEFAULT_INSTALLER_URL, description="the installer (https:// or an "
                                    "absolute path on the machines; {version} is replaced)")
    rke2_installer_sha256: str | None = Field(default=None, description="the installer's SHA-256; without it "
                                              "(and without rke2_install_command) no RKE2 join runs")
    job_parallelism: int = Field(default=4, description="jobs one process runs at once")
    job_ack_wait_s: float = Field(default=10.0, description="a killed executor's job is redelivered after "
                                  "this (its lease, the same unless AUTORKE_JOB_LEASE_S, has lapsed by then, "
                                  "so another replica takes it over within about this)")
    job_lease_s: float | None = Field(default=None, gt=0, description="how long a job's lease holds without "
                                      "renewal (default: the ack wait); renewed every third of it")
    job_max_deliver: int = 20
    kube_request_timeout_s: float = 30.0

    @field_validator("ssh_kex")
    @classmethod
    def _known_kex(cls, value: str) -> str:  # a typo fails the start, not the first job
        from autorke_executor.adapters.ssh import checked_kex

        checked_kex(value)
        return value


def rke2_install_command(settings: ExecutorSettings) -> str:
    """The command a joining node runs: the configured one as it is, else the pinned
    installer checked against its SHA-256; "" (every RKE2 join refused) without a checksum.
    A malformed version, URL or checksum fails the start."""
    if settings.rke2_install_command:
        return settings.rke2_install_command
    installer = Rke2Installer(settings.rke2_version, settings.rke2_installer_url, settings.rke2_installer_sha256)
    return installer.command() if installer.sha256 else ""


def create_app(settings: ExecutorSettings | None = None, configure_process: bool = True) -> FastAPI:
    from autorke_executor.adapters import kube, metrics, rke, ssh
    from autorke_executor.adapters.scripts import ScriptLibrary
    from autorke_executor.adapters.unit_of_work import ExecutorUnitOfWork
    from autorke_executor.domain.model import signer_may_run
    from autorke_executor.entrypoints.api import router
    from autorke_executor.entrypoints.consumer import JobConsumer, run_consumer
    from autorke_executor.service_layer.handlers import RunJob, new_lease, run_job
    from autorke_executor.service_layer.ports import InlineOnly, KubePort, Ports, ProvisionerPort, SshPort

    settings = settings or ExecutorSettings()
    verifier = signing.verifier_from(  # no trusted signers: no start (nothing runs unsigned)
        settings, lambda signer, env: signer_may_run(signer, env.data.get("kind"), env.data.get("action")))
    runtime = ServiceRuntime(settings, metadata, "autorke_executor:migrations", configure_process,
                             needs_secrets=True)
    metrics.register(runtime)

    @functools.cache
    def connector() -> ssh.SshConnector:  # the key is read at the first SSH job, not at start
        return ssh.SshConnector(settings.ssh_key_path.expanduser(), settings.ssh_user,
                                ssh.checked_kex(settings.ssh_kex))

    ports = Ports(
        ssh=SshPort(connector=connector, bastions=ssh.BastionCache, failure=ssh.SshFailure,
                    scripts=ScriptLibrary(), rke2_install_command=rke2_install_command(settings)),
        kube=KubePort(cluster=lambda text: kube.Cluster(kube.api_client(text), settings.kube_request_timeout_s),
                      failure=kube.KubeFailure),
        provisioner=ProvisionerPort(run=rke.RkeWorkspace(settings.data_dir.resolve() / "rke").run,
                                    binary=settings.rke_binary,
                                    ssh_key_path=str(settings.ssh_key_path.expanduser())),
        secrets=runtime.secrets, verifier=verifier, claims=claims.client_from(settings) or InlineOnly())

    # a job's lease lasts one ack window: a dead executor's job is redelivered after it, and
    # by then its lease has run out, so the next executor takes it over at once (H4)
    lease = new_lease(settings.job_lease_s or settings.job_ack_wait_s)

    def handle(cmd: RunJob, stop: threading.Event) -> str:  # the executor's one command
        return run_job(cmd, ExecutorUnitOfWork(runtime.db), ports, stop, lease)

    consumer = JobConsumer(handle, heartbeat_s=max(1.0, settings.job_ack_wait_s / 3))
    runtime.consume(run_consumer(consumer, settings.job_parallelism, settings.job_ack_wait_s,
                                 settings.job_max_deliver))
    app = create_service_app(runtime, [router])
    app.state.ssh_connector = connector
    return app
