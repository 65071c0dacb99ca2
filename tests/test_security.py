"""The holes a security review found (issue 12), each kept closed by a test that failed before its fix.

docs/reliability.md (Security) lists every finding with the test that covers it and the threat model.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from api.app import create_app
from desk.settings import PLACEHOLDER_SECRET_KEY, InsecureSetting, Settings
from tests.conftest import free_port, make_settings

ROOT = Path(__file__).resolve().parents[1]


def _cli(args: list[str], env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess:
    """Run `opinion-desk ARGS`; a command that should have refused to start but did not is stopped and fails."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    proc = subprocess.Popen([sys.executable, "-m", "desk.cli", *args], env={**base, **env}, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"`opinion-desk {' '.join(args)}` started instead of refusing: {err[-500:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# --- 5. a placeholder or short secret key -----------------------------------------------------------------


def test_the_secret_key_placeholder_is_the_one_env_example_ships():
    shipped = re.search(r"^DESK_SECRET_KEY=(.*)$", (ROOT / ".env.example").read_text(), re.M).group(1).strip()
    assert shipped == PLACEHOLDER_SECRET_KEY


@pytest.mark.parametrize("key", [PLACEHOLDER_SECRET_KEY, "short-but-not-empty-key", "x" * 31])
def test_the_desk_refuses_to_start_with_a_placeholder_or_short_secret_key(tmp_path, key):
    with pytest.raises(InsecureSetting) as refused:
        create_app(make_settings(tmp_path, None, secret_key=key), database_url=f"sqlite:///{tmp_path / 'd.db'}")
    assert "DESK_SECRET_KEY" in str(refused.value) and "openssl rand" in str(refused.value)

    run = _cli(["api"], {"DESK_SECRET_KEY": key, "DESK_DATA_DIR": str(tmp_path), "DESK_API_PORT": str(free_port()),
                         "DESK_LOG_JSON": "false"})
    assert run.returncode == 2
    said = run.stderr.strip()
    assert "DESK_SECRET_KEY" in said and len(said.splitlines()) == 1, said  # one sentence, no traceback
    assert "Traceback" not in said


def test_a_generated_secret_key_is_long_enough_and_kept(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    key = settings.resolved_secret_key()
    assert len(key) >= 32 and (tmp_path / "secret.key").read_text().strip() == key
    assert Settings(_env_file=None, data_dir=tmp_path).resolved_secret_key() == key
    create_app(settings, database_url=f"sqlite:///{tmp_path / 'd.db'}")  # starts


# --- 8. secret files readable by their owner only, from their first byte ------------------------------------


class _Chmods:
    """Records chmod calls through Python's audit hooks (PEP 578): what the process really did to the file."""

    active: list[str] | None = None
    installed = False

    @classmethod
    def watch(cls) -> list[str]:
        if not cls.installed:
            sys.addaudithook(lambda event, args: cls.active.append(str(args[0]))
                             if event == "os.chmod" and cls.active is not None else None)
            cls.installed = True
        cls.active = []
        return cls.active


def test_secret_files_are_created_owner_only_not_chmodded_after(tmp_path, database_url):
    """A file written first and chmodded after is readable by everyone (umask 022) for a moment."""
    from desk import cli

    old_umask = os.umask(0)  # the most permissive umask: only the mode given at creation protects the file
    chmods = _Chmods.watch()
    try:
        Settings(_env_file=None, data_dir=tmp_path).resolved_secret_key()
        os.environ["DESK_DATABASE_URL"] = database_url
        cli.get_settings.cache_clear()
        from desk.db import init_db

        init_db(database_url)
        cli._first_admin(tmp_path)
    finally:
        os.umask(old_umask)
        os.environ.pop("DESK_DATABASE_URL", None)
        cli.get_settings.cache_clear()
        _Chmods.active = None
    for name in ("secret.key", "admin-password.txt"):
        path = tmp_path / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        assert not [p for p in chmods if p.endswith(name)], f"{name} was created wider, then chmodded"
    assert len((tmp_path / "admin-password.txt").read_text().strip()) >= 12
