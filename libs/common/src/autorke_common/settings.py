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
    log_level: str = "INFO"
    log_format: str = Field(default="json", description="json or text")
    trace_exporter: str = Field(default="none", description="none, console or otlp (an OTLP endpoint implies otlp)")
    otlp_endpoint: str | None = None
    # Bus behaviour
    bus_max_deliver: int = 5
    bus_ack_wait_s: float = 30.0
    bus_retry_backoff_s: list[float] = [1.0, 5.0, 15.0, 30.0]
    events_max_age_days: int = 14
    outbox_poll_interval_s: float = 0.5
    # Auth: OIDC issuer whose JWKS signs bearer tokens; empty disables auth (dev only).
    oidc_issuer: str | None = None
    oidc_audience: str = "autorke"
    oidc_jwks_cache_s: float = Field(default=300.0, gt=0, description="how long a fetched JWKS is trusted; "
                                     "a key the IdP removed verifies no token after this")
    oidc_jwks_refetch_cooldown_s: float = Field(default=30.0, ge=0, description="at most one JWKS refetch "
                                                "per this many seconds for tokens naming an unknown key")
    auth_disabled: bool = Field(default=False, description="development only: every caller is admin")
    secret_key: SecretStr | None = None
    # Request bodies (bytes): every route, and a config import (a whole cluster.yml and
    # cluster.rkestate: every certificate and key of the cluster).
    request_body_limit_bytes: int = Field(default=1024 * 1024, gt=0)
    import_body_limit_bytes: int = Field(default=16 * 1024 * 1024, gt=0)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / f'{self.service_name}.db').resolve()}"


def secret_box(settings: ServiceSettings):
    """The platform's :class:`~autorke_common.secrets.SecretBox` (needs AUTORKE_SECRET_KEY)."""
    from autorke_common.secrets import SecretBox

    if settings.secret_key is None:
        raise ValueError("AUTORKE_SECRET_KEY is not set")
    return SecretBox(settings.secret_key.get_secret_value())
