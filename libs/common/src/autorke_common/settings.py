"""Settings every service shares, read from ``AUTORKE_*`` environment variables (or a
``.env`` file). A service subclasses :class:`ServiceSettings` for its own fields; nothing
builds settings at import time — ``bootstrap`` does, once."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_NATS_URL = "nats://127.0.0.1:4250"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTORKE_", env_file=".env", extra="ignore")

    service_name: str = "autorke"
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path(".autorke")
    db_schema: str | None = Field(default=None, description="PostgreSQL schema; default: the service name")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file <data_dir>/<service>.db"
    )
    nats_url: str = DEFAULT_NATS_URL
    # The bus user's nkey seed file (autorke_common.natsauth; the user is service_name);
    # unset: connect without credentials (a bare test server).
    nats_credentials: Path | None = Field(default=None, description="this service's NATS nkey seed file")
    nats_tls_ca_file: Path | None = Field(default=None, description="CA of the NATS server's certificate "
                                          "(with a tls:// URL)")
    log_level: str = "INFO"
    log_format: str = Field(default="json", description="json or text")
    trace_exporter: str = Field(default="none", description="none, console or otlp (an OTLP endpoint implies otlp)")
    otlp_endpoint: str | None = None
    # Bus behaviour
    bus_max_deliver: int = 5
    bus_ack_wait_s: float = 30.0
    bus_retry_backoff_s: list[float] = [1.0, 5.0, 15.0, 30.0]
    events_max_age_days: int = 14
    nats_stream_replicas: int = Field(default=1, ge=1, le=5, description="replicas of the two JetStream "
                                      "streams (3 on a three-node NATS cluster)")
    outbox_poll_interval_s: float = 0.5
    outbox_retention_s: float = Field(default=86400.0, ge=3600.0, description="published outbox rows "
                                      "are deleted after this (parked ones are kept)")
    # Auth: OIDC issuer whose JWKS signs bearer tokens; empty disables auth (dev only).
    oidc_issuer: str | None = None
    oidc_audience: str = "autorke"
    oidc_jwks_cache_s: float = Field(default=300.0, gt=0, description="how long a fetched JWKS is trusted; "
                                     "a key the IdP removed verifies no token after this")
    oidc_jwks_refetch_cooldown_s: float = Field(default=30.0, ge=0, description="at most one JWKS refetch "
                                                "per this many seconds for tokens naming an unknown key")
    auth_disabled: bool = Field(default=False, description="development only: every caller is admin")
    # The sealing key (autorke_common.secrets): 32 random bytes, base64; several comma-separated,
    # newest first. Only the inventory, executor and netcfg get it; a file (mode 0600, a Docker or
    # Kubernetes secret) is preferred to the variable, which `docker inspect` and /proc show.
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = Field(default=None, description="a file holding AUTORKE_SECRET_KEY "
                                         "(read at start; preferred to the variable)")
    # Signed commands (autorke_common.signing): the sender's private key, the receiver's
    # trusted public keys (<name>=<base64>, comma-separated) and how old a command may be.
    signing_key_file: Path | None = Field(default=None, description="Ed25519 private key (PEM) this "
                                          "service signs its commands with (orchestrator, inventory)")
    command_signers: str | None = Field(default=None, description="trusted signers' public keys: "
                                        "orchestrator=<base64>,inventory=<base64> (executor, inventory)")
    command_max_age_s: float = Field(default=3600.0, gt=0, description="a signed command older than "
                                     "this is refused (unless already accepted once)")
    # Request bodies (bytes): every route, and a config import (a whole cluster.yml and
    # cluster.rkestate: every certificate and key of the cluster).
    request_body_limit_bytes: int = Field(default=1024 * 1024, gt=0)
    import_body_limit_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    # Where a service creates a change on a caller's behalf (autorke_common.change_requests),
    # and where it fetches claims (autorke_common.claims); comma-separated replicas.
    orchestrator_url: str | None = Field(default=None, description="the orchestrator's base URL")
    inventory_url: str | None = Field(default=None, description="the inventory's base URL (claims)")
    executor_url: str | None = Field(default=None, description="the executor's base URL (claims)")
    # Claim-check (autorke_common.claims): who may fetch this service's claims, when an
    # event's sealed value goes by reference, and how long a claim is kept (none: forever).
    claim_readers: str | None = Field(default=None, description="public keys of the services that may "
                                      "fetch this one's claims: executor=<base64>,...")
    claim_threshold_bytes: int = Field(default=256 * 1024, gt=0, description="a sealed value in an event "
                                       "larger than this travels as a claim reference")
    claim_retention_s: float | None = Field(default=15 * 86400.0, description="claims are deleted this "
                                            "long after last kept (none: kept; the inventory's configs)")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / f'{self.service_name}.db').resolve()}"


def secret_box(settings: ServiceSettings):
    """The platform's :class:`~autorke_common.secrets.SecretBox` (needs AUTORKE_SECRET_KEY)."""
    from autorke_common.secrets import SecretBox

    if settings.secret_key_file is not None:
        try:
            key = settings.secret_key_file.read_text().strip()
        except OSError as exc:
            raise ValueError(f"AUTORKE_SECRET_KEY_FILE {settings.secret_key_file} cannot be read: "
                             f"{exc.strerror}") from None
    elif settings.secret_key is not None:
        key = settings.secret_key.get_secret_value()
    else:
        raise ValueError("AUTORKE_SECRET_KEY_FILE (or AUTORKE_SECRET_KEY) is not set")
    return SecretBox(key)
