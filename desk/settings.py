"""The one settings object. Every field is read from the environment with the prefix ``DESK_``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESK_", env_file=".env", extra="ignore", env_ignore_empty=True)

    data_dir: Path = Path("./data")
    database_url: str | None = None  # unset: SQLite file under data_dir
    temporal_address: str | None = None  # unset: `opinion-desk up` starts the embedded dev server
    temporal_namespace: str = "default"
    temporal_task_queue: str = "opinion-desk"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    temporal_api_key: str | None = None
    policy: str = "bazhong"  # preset name or TOML path
    drill_policy: str = "drill"
    notify_config: Path | None = None  # apprise YAML/text config
    parties: Path | None = None  # parties TOML; unset: the Bazhong units shipped with the desk
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str | None = None  # unset: http://{api_host}:{api_port}
    secret_key: str | None = None  # unset: generated once and kept in data_dir/secret.key
    token_ttl_minutes: int = 12 * 60
    log_json: bool = True
    worker_metrics_port: int | None = None  # the worker's Temporal SDK metrics (Prometheus) on 0.0.0.0:PORT
    # Incidents a worker keeps in memory between their workflow tasks (the sticky cache; ~200 KB each).
    # One not in memory is rebuilt by replaying its history when its next rung or action comes.
    worker_max_cached_workflows: int = Field(default=1000, ge=0)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'desk.db').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"

    @property
    def resolved_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            import secrets

            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
