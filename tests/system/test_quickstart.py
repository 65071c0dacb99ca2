"""`opinion-desk up` (what `make up`, the README's first command, runs) brings the whole desk up on the embedded
default, says where it is and the first admin's password file, warns that with no channel configured the messages
reach no one, answers on the web, and stops everything on Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.helpers import free_port

# The embedded default is SQLite; the PostgreSQL pass has nothing to add here.
pytestmark = pytest.mark.sqlite_only


def test_opinion_desk_up_brings_the_desk_up_warns_about_no_channel_and_stops_on_ctrl_c(tmp_path):
    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
    env.update(DESK_DATA_DIR=str(tmp_path / "data"), DESK_API_PORT=str(api_port),
               DESK_TEMPORAL_PORT=str(temporal_port), DESK_TEMPORAL_UI_PORT=str(ui_port))
    proc = subprocess.Popen([sys.executable, "-m", "desk.cli", "up"], env=env, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    said: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while not any("Ctrl-C" in line for line in said):
            assert proc.poll() is None, "".join(said)
            assert time.monotonic() < deadline, "".join(said)
            try:
                said.append(lines.get(timeout=1))
            except queue.Empty:
                pass
        out = "".join(said)
        assert "舆情回应台已启动" in out and f"http://127.0.0.1:{api_port}" in out, out
        assert "first login admin / " in out, out  # a fresh desk says how to log in the first time
        assert "未配置通知渠道" in out and "不会送达任何人" in out, out  # issue 18.3: the warning at start
        while True:  # the web app answers (the worker and the API start beside it)
            try:
                if httpx.get(f"http://127.0.0.1:{api_port}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "".join(said)
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode == 0
    assert (tmp_path / "data" / "desk.db").exists()
