"""The one settings object. Every field is read from the environment with the prefix ``DESK_``."""

from __future__ import annotations

import ipaddress
import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The placeholder .env.example ships: a desk started with it signs sessions with a key anyone can read.
PLACEHOLDER_SECRET_KEY = "change-me-to-a-long-random-string"
MIN_SECRET_KEY_BYTES = 32
MIN_METRICS_TOKEN_BYTES = 24


class InsecureSetting(ValueError):
    """A setting the desk refuses to start with. The message is one sentence an operator can act on."""


def check_secret_key(key: str) -> str:
    if key == PLACEHOLDER_SECRET_KEY or key.startswith("change-me"):
        raise InsecureSetting(
            "DESK_SECRET_KEY 仍是 .env.example 中的占位值，任何人都能据此伪造登录，请换成随机生成的密钥"
            "（例如 `openssl rand -hex 32`）后再启动 / DESK_SECRET_KEY is still the .env.example placeholder: "
            "replace it with a random key (openssl rand -hex 32).")
    if len(key.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        raise InsecureSetting(
            f"DESK_SECRET_KEY 太短（{len(key.encode('utf-8'))} 字节），至少需要 {MIN_SECRET_KEY_BYTES} 字节的随机字符"
            f"（例如 `openssl rand -hex 32`），否则登录可被伪造 / DESK_SECRET_KEY is shorter than "
            f"{MIN_SECRET_KEY_BYTES} bytes: use a random key (openssl rand -hex 32).")
    return key


def write_private(path: Path, text: str, *, replace: bool = False) -> bool:
    """Create ``path`` readable by its owner only (0600) from its first byte: the mode is given to open(),
    so there is no moment when another local user could read it (a chmod afterwards leaves one).
    Returns False if the file already exists and ``replace`` is not set (another process made it first)."""
    if replace:
        path.unlink(missing_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return True


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
    # TOML of official holidays for years chinese-calendar does not know yet ([2027] holidays/workdays), or to
    # correct one; working-day deadlines (due = "3wd") count with it. Unset: the package's years only.
    holidays: Path | None = None
    notify_config: Path | None = None  # apprise YAML/text config
    parties: Path | None = None  # parties TOML; unset: the Bazhong units shipped with the desk
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str | None = None  # unset: http://{api_host}:{api_port}
    secret_key: str | None = None  # unset: generated once and kept in data_dir/secret.key
    token_ttl_minutes: int = 12 * 60
    # Reverse proxies (IPs or CIDR networks, comma-separated) whose X-Forwarded-For / -Proto uvicorn believes.
    # Unset: nobody's; the client address is the connection's (the login limiter counts per address).
    trusted_proxies: str | None = None
    cookie_secure: bool | None = None  # unset: on when public_url is https
    # Directory login (desk/directory.py). Unset URL: local accounts only. Local accounts with a password
    # keep working beside the directory, and while it is down (the break-glass admin).
    ldap_url: str | None = None  # ldap://host:389 or ldaps://host:636
    ldap_start_tls: bool = False
    ldap_ca_file: Path | None = None  # CA bundle for ldaps:// / StartTLS; unset: the system's
    ldap_bind_dn: str | None = None  # a service account that searches for users and reads groups, or …
    ldap_bind_password: str | None = None
    ldap_user_base: str | None = None  # … where it searches, with ldap_user_filter
    ldap_user_filter: str = "(uid={username})"
    ldap_user_dn: str | None = None  # … no service account: bind as this DN, e.g. uid={username},ou=people,dc=x
    ldap_group_base: str | None = None
    ldap_group_filter: str = "(|(member={dn})(uniqueMember={dn})(memberUid={username}))"
    ldap_groups: Path | None = None  # TOML: [roles] group = "role", [parties] group = "party code"
    ldap_username_attribute: str = "uid"  # sAMAccountName on Active Directory
    ldap_display_name_attribute: str = "cn"  # displayName on Active Directory
    ldap_timeout_seconds: float = Field(default=5.0, gt=0)
    metrics_token: str | None = None  # unset: /metrics answers 404
    api_docs: bool = False  # /docs and /openapi.json
    log_json: bool = True
    worker_metrics_port: int | None = None  # the worker's Temporal SDK metrics (Prometheus) on 0.0.0.0:PORT
    # Incidents a worker keeps in memory between their workflow tasks (the sticky cache; ~150 KB each; at least 8:
    # the worker takes a quarter of it in workflow tasks at once, worker.workflow_task_slots).
    # One not in memory is rebuilt by replaying its history when its next rung or action comes.
    worker_max_cached_workflows: int = Field(default=1000, ge=8)
    # Attachments (evidence): the largest file taken, and how many files one upload may carry. The blobs live
    # under data_dir/blobs (a named volume in compose).
    attachment_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    attachment_max_files: int = Field(default=10, ge=1)
    # Scheduled reports (desk/schedules.py): the weekly summary and the monthly 通报, made and sent by the worker
    # to these apprise tags (comma-separated; e-mail gets the file attached, chat bots a link behind the login).
    # Cron times in report_time_zone; a schedule turned off stays in the Temporal UI, paused.
    report_weekly: bool = True
    report_weekly_cron: str = "30 8 * * 1"  # Monday 08:30
    report_weekly_tags: str = "supervisor"
    report_monthly: bool = True
    report_monthly_cron: str = "30 8 1 * *"  # the 1st, 08:30
    report_monthly_tags: str = "supervisor"
    report_format: Literal["docx", "pdf"] = "docx"
    report_time_zone: str = "Asia/Shanghai"

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

    def resolved_metrics_token(self) -> str | None:
        """The token Prometheus reads /metrics with (None: /metrics is off); raises InsecureSetting if guessable."""
        if self.metrics_token and len(self.metrics_token.encode("utf-8")) < MIN_METRICS_TOKEN_BYTES:
            raise InsecureSetting(
                f"DESK_METRICS_TOKEN 太短，至少需要 {MIN_METRICS_TOKEN_BYTES} 字节的随机字符（例如 `openssl rand -hex 24`）/ "
                f"DESK_METRICS_TOKEN is shorter than {MIN_METRICS_TOKEN_BYTES} bytes: use a random token.")
        return self.metrics_token or None

    @property
    def resolved_cookie_secure(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.resolved_public_url.lower().startswith("https://")

    def resolved_trusted_proxies(self) -> list[str]:
        """The proxies uvicorn may believe, checked; raises InsecureSetting for `*` or a malformed entry."""
        entries = [e.strip() for e in (self.trusted_proxies or "").split(",") if e.strip()]
        for entry in entries:
            try:
                network = None if entry == "*" else ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise InsecureSetting(
                    f"DESK_TRUSTED_PROXIES 中的“{entry}”不是 IP 地址或网段（例如 10.0.0.5 或 10.0.0.0/24），请改正后再启动 / "
                    f"DESK_TRUSTED_PROXIES: '{entry}' is not an IP address or CIDR network.") from None
            if network is None or network.prefixlen == 0:
                raise InsecureSetting(
                    f"DESK_TRUSTED_PROXIES 不能是“{entry}”：那样任何人都能伪造来源地址、绕过登录次数限制，请只填反向代理的地址 / "
                    f"DESK_TRUSTED_PROXIES must not be '{entry}': list only your reverse proxies' addresses.")
        return entries

    @property
    def resolved_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    def resolved_secret_key(self) -> str:
        """The key that signs tokens, sessions and CSRF tokens; raises InsecureSetting for a weak one."""
        if self.secret_key:
            return check_secret_key(self.secret_key)
        path = self.data_dir / "secret.key"
        if not path.exists():
            import secrets

            self.data_dir.mkdir(parents=True, exist_ok=True)
            write_private(path, secrets.token_urlsafe(48))  # False: a process starting beside us wrote it
        key = path.read_text().strip()
        for _ in range(20):  # that process may not have written its bytes yet
            if key:
                break
            time.sleep(0.05)
            key = path.read_text().strip()
        return check_secret_key(key)


@lru_cache
def get_settings() -> Settings:
    return Settings()
