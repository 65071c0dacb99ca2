"""What every benchmark needs: the whole desk started for real, on this machine, and small statistics.

A `Stack` is a Temporal dev server (SQLite file, WAL pragmas, as `opinion-desk up` runs it), the desk's
database (a SQLite file, or a fresh PostgreSQL database on the server given by --database-url), the
API served by uvicorn in its own process (`python -m desk.cli api`), worker processes
(`python -m desk.cli worker`), and a local HTTP receiver for the json:// notification channels.
The benchmark process talks to it over real HTTP and gRPC, like any client would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
POLICIES = Path(__file__).resolve().parent / "policies"
PASSWORD = "bench-password-9"
PARTY = "bazhou"
USERS = {"duty": ("duty_officer", None), "bazhou": ("responder", PARTY), "super": ("supervisor", None)}
INCIDENT = {"title": "某小区燃气泄漏引发网络关注", "category": "accident", "level": "III", "party": PARTY,
            "source": "weibo"}


# --- arguments and printing --------------------------------------------------------------------------------


def parser(description: str, *, workers: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a smoke run with tiny numbers (seconds, not minutes)")
    p.add_argument("--workers", default=workers, help=f"worker process counts to run, comma-separated (default {workers})")
    p.add_argument("--concurrency", type=int, default=32, help="HTTP requests in flight (default 32)")
    p.add_argument("--database-url", default=None,
                   help="PostgreSQL server to use instead of a SQLite file; a fresh database is made and dropped")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    return p


def worker_counts(spec: str) -> list[int]:
    return [int(x) for x in spec.split(",") if x.strip()]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def print_table(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    """rows: (figure, value, baseline/target, ratio/verdict)."""
    head = ("figure", "value", "baseline / target", "ratio / verdict")
    widths = [max(_w(r[i]) for r in [head, *rows]) for i in range(4)]
    print(f"\n== {title}")
    for r in [head, *rows]:
        print("  " + "  ".join(s + " " * (widths[i] - _w(s)) for i, s in enumerate(r)))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"  (machine load average now {load} on {os.cpu_count()} cores; others may share it)")
    sys.stdout.flush()


def _w(s: str) -> int:  # CJK characters take two columns
    return sum(2 if ord(c) > 0x2E80 else 1 for c in s)


def machine() -> str:
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    from desk.cli import temporal_binary

    version = subprocess.run([temporal_binary(), "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.1f} GiB, Python {platform.python_version()}, "
            f"{version.replace('temporal version ', 'temporal CLI ')}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- load generation ----------------------------------------------------------------------------------------


async def bounded(n: int, concurrency: int, call: Callable[[int], Awaitable[object]]) -> list[object]:
    """Run call(0..n-1) with at most `concurrency` in flight; results in index order."""
    results: list[object] = [None] * n
    next_index = 0

    async def lane() -> None:
        nonlocal next_index
        while next_index < n:
            i = next_index
            next_index += 1
            results[i] = await call(i)

    await asyncio.gather(*(lane() for _ in range(min(concurrency, n))))
    return results


async def paced(rate: float, seconds: float, call: Callable[[int], Awaitable[object]]) -> list[object]:
    """Start call(i) at a steady `rate` per second for `seconds` (open loop: no waiting on replies)."""
    start = time.perf_counter()
    tasks = []
    i = 0
    while (due := start + i / rate) < start + seconds:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(call(i)))
        i += 1
    return list(await asyncio.gather(*tasks))


async def timed(coro: Awaitable[T]) -> tuple[float, T]:
    t = time.perf_counter()
    response = await coro
    return time.perf_counter() - t, response


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time a process has used so far (all its threads); None: this process."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds each named process spends between start() and stop(): where a burst's CPU went."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids

    def start(self) -> CpuMeter:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()}


def per_item_ms(spent: dict[str, float], n: int) -> str:
    return ", ".join(f"{name} {1000 * s / n:.1f}" for name, s in spent.items()) + f" (total {1000 * sum(spent.values()) / n:.1f})"


# --- the stack ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LeanResponse:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> object:
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.text[:300]}")


IDLE_REUSE_SECONDS = 30.0  # well inside the API's keep-alive timeout (75 s)


class LeanClient:
    """The load generator's HTTP/1.1 keep-alive client: a few asyncio streams and no more.

    httpx spent about half a core of this 2-core machine generating the load (py-spy), CPU taken from
    the desk under test, while the bare baseline's load comes from Temporal's Rust client. This one
    does only what the benchmarks send: POST a JSON body, read a Content-Length answer."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []  # (…, last used)

    async def post(self, path: str, *, json: object, headers: dict[str, str]) -> LeanResponse:
        body = _json_dumps(json)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: once more on a new one
            reader, writer = await self._connection(fresh=attempt == 2)
            try:
                writer.write(request)
                status_line = await reader.readuntil(b"\r\n")
                if not status_line:
                    raise ConnectionResetError
                raw = await reader.readuntil(b"\r\n\r\n")
                fields = dict(line.split(":", 1) for line in raw.decode("latin-1").split("\r\n") if ":" in line)
                fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
                content = await reader.readexactly(int(fields.get("content-length", "0")))
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                if attempt == 2:
                    raise
                continue
            if fields.get("connection", "").lower() == "close":
                writer.close()
            else:
                self.idle.append((reader, writer, time.monotonic()))
            return LeanResponse(int(status_line.split()[1]), content)
        raise AssertionError("unreachable")

    async def _connection(self, fresh: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self.idle and not fresh:
            reader, writer, used = self.idle.pop()
            if time.monotonic() - used < IDLE_REUSE_SECONDS:
                return reader, writer
            writer.close()  # the server may have closed it already (its keep-alive timeout)
        return await asyncio.open_connection(self.host, self.port)

    async def aclose(self) -> None:
        while self.idle:
            self.idle.pop()[1].close()


def _json_dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# The SDK's count of workflow tasks a worker completed (each new incident's first one starts its clocks).
WFT_COUNT = "temporal_workflow_task_execution_latency_count"


@dataclass
class Stack:
    policy: str
    database_url: str | None = None  # a PostgreSQL server URL; None: SQLite file
    keep: bool = False
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="desk-bench-")))
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    workers: list[subprocess.Popen] = field(default_factory=list)
    task_queue: str = "opinion-desk"
    tokens: dict[str, str] = field(default_factory=dict)
    metrics_ports: dict[int, int] = field(default_factory=dict)  # worker pid -> its SDK metrics port
    worker_env: dict[str, str] = field(default_factory=dict)  # extra DESK_* settings for the workers
    _pg_admin: str | None = None
    _pg_name: str | None = None

    def __post_init__(self) -> None:
        self.temporal_port, self.api_port, self.receiver_port = free_port(), free_port(), free_port()
        self.address = f"127.0.0.1:{self.temporal_port}"
        self.base_url = f"http://127.0.0.1:{self.api_port}"

    # -- life cycle --

    async def start(self, workers: int) -> Stack:
        try:
            return await self._start(workers)
        except BaseException:
            await self.stop()
            raise

    async def _start(self, workers: int) -> Stack:
        from desk.cli import dev_server_command

        self._make_database()
        self._spawn("temporal", [*dev_server_command(self.tmp, self.temporal_port, free_port(), "default"),
                                 "--headless"])
        self._spawn("receiver", [sys.executable, "-m", "bench.receiver", str(self.receiver_port)])
        self._write_notify_config()
        await self._wait_for_temporal()
        self._seed()
        self._spawn("api", [sys.executable, "-m", "desk.cli", "api"], env=self.env())
        await self.start_workers(workers)
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=120,
                                      limits=httpx.Limits(max_connections=256, max_keepalive_connections=256))
        self.lean = LeanClient("127.0.0.1", self.api_port)
        await self._wait_http("/healthz")
        for name in USERS:
            r = await self.http.post("/api/auth/token", data={"username": name, "password": PASSWORD})
            r.raise_for_status()
            self.tokens[name] = r.json()["access_token"]
        from temporalio.client import Client

        self.client = await Client.connect(self.address)
        return self

    async def stop(self) -> None:
        if hasattr(self, "http"):
            await self.http.aclose()
            await self.lean.aclose()
        if not hasattr(self, "db_url"):
            self.db_url = self.database_url or f"sqlite:///{self.tmp / 'desk.db'}"
        await self.stop_workers()
        for name in ("api", "receiver", "temporal"):
            proc = self.procs.pop(name, None)
            if proc is not None:
                terminate(proc)
        from desk.db import dispose_engine

        dispose_engine(self.db_url)
        if self._pg_name:
            from sqlalchemy import create_engine, text

            admin = create_engine(self._pg_admin, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)'))
            admin.dispose()
        if self.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    async def start_workers(self, n: int) -> None:
        for _ in range(n):
            port = free_port()  # each worker serves its SDK metrics: how many workflow tasks it has run
            proc = self._spawn(f"worker-{len(self.workers)}", [sys.executable, "-m", "desk.cli", "worker"],
                               env={**self.env(), **self.worker_env, "DESK_WORKER_METRICS_PORT": str(port)},
                               register=False)
            self.workers.append(proc)
            self.metrics_ports[proc.pid] = port

    async def workflow_tasks(self, workers: list[subprocess.Popen] | None = None) -> int:
        """Workflow tasks completed by the running workers, or by `workers` (their SDK metrics, summed)."""
        total = 0
        for w in self.workers if workers is None else workers:  # polled ten times a second while measuring: one
            # kept-alive client, not one per poll
            try:
                text_ = (await self.http.get(f"http://127.0.0.1:{self.metrics_ports[w.pid]}/metrics")).text
            except httpx.TransportError:  # not serving yet
                continue
            total += sum(int(float(line.rsplit(" ", 1)[1])) for line in text_.splitlines()
                         if line.startswith(WFT_COUNT))
        return total

    async def wait_workflow_tasks(self, n: int, timeout: float = 1800,
                                  workers: list[subprocess.Popen] | None = None) -> float:
        """Wait until the workers (or `workers`) have completed `n` workflow tasks in all; returns the
        time.perf_counter()."""
        end = time.monotonic() + timeout
        while (have := await self.workflow_tasks(workers)) < n:
            self.check_alive()
            if time.monotonic() > end:
                raise RuntimeError(f"only {have}/{n} workflow tasks after {timeout}s")
            await asyncio.sleep(0.1)
        return time.perf_counter()

    async def wait_quiet(self, still: float = 5.0, timeout: float = 1800,
                         workers: list[subprocess.Popen] | None = None) -> float:
        """Wait until the workers' completed workflow tasks stop growing for ``still`` seconds: what an intake
        leaves behind (each new incident's 【新交办】 sent and its attempt recorded, a second workflow task) is done.
        Returns the seconds waited."""
        start = end = time.monotonic()
        end += timeout
        last, since = await self.workflow_tasks(workers), time.monotonic()
        while time.monotonic() - since < still:
            self.check_alive()
            if time.monotonic() > end:
                raise TimeoutError(f"the workers were still busy after {timeout}s")
            await asyncio.sleep(0.5)
            if (now := await self.workflow_tasks(workers)) != last:
                last, since = now, time.monotonic()
        return since - start

    def start_baseline_worker(self) -> tuple[str, subprocess.Popen]:
        """The trivial workflows' worker (bench/trivial.py) on a task queue of its own."""
        queue, port = f"bench-trivial-{uuid.uuid4().hex[:6]}", free_port()
        proc = self._spawn("baseline-worker", [sys.executable, "-m", "bench.trivial", self.address, queue,
                                               f"http://127.0.0.1:{self.receiver_port}", str(port)], register=False)
        self.metrics_ports[proc.pid] = port  # `workflow_tasks([proc])`: the workflow tasks it has run
        return queue, proc

    async def stop_workers(self) -> None:
        while self.workers:
            terminate(self.workers.pop())

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DESK_")}
        env.update(
            DESK_DATA_DIR=str(self.tmp), DESK_DATABASE_URL=self.db_url, DESK_TEMPORAL_ADDRESS=self.address,
            DESK_TEMPORAL_TASK_QUEUE=self.task_queue, DESK_POLICY=self.policy, DESK_DRILL_POLICY="drill",
            DESK_NOTIFY_CONFIG=str(self.tmp / "notify.yml"), DESK_SECRET_KEY="bench-secret-key-not-for-production-0123456789",
            DESK_API_HOST="127.0.0.1", DESK_API_PORT=str(self.api_port), DESK_PUBLIC_URL="http://desk.bench",
            PYTHONPATH=str(ROOT),
        )
        return env

    def check_alive(self) -> None:
        for name, proc in [*self.procs.items(), *((f"worker pid {w.pid}", w) for w in self.workers)]:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see the logs in {self.tmp}")

    # -- the desk, as a client sees it --

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def open(self, **fields) -> tuple[float, LeanResponse]:
        return await timed(self.lean.post("/api/incidents", json={**INCIDENT, **fields}, headers=self.auth("duty")))

    def worker_rss_kb(self) -> int:
        return sum(rss_kb(w.pid) for w in self.workers)

    async def arrivals(self) -> list[dict]:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"http://127.0.0.1:{self.receiver_port}/arrivals", timeout=60)).json()

    # -- helpers --

    def _spawn(self, name: str, cmd: list[str], env: dict | None = None, register: bool = True) -> subprocess.Popen:
        logf = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env or self.env(), cwd=ROOT,
                                start_new_session=True)
        if register:
            self.procs[name] = proc
        return proc

    def _make_database(self) -> None:
        if self.database_url and self.database_url.startswith("postgresql"):
            from sqlalchemy import create_engine, text

            self._pg_admin = self.database_url
            self._pg_name = f"desk_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(self._pg_admin, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self._pg_name}"'))
            admin.dispose()
            self.db_url = self.database_url.rsplit("/", 1)[0] + f"/{self._pg_name}"
        else:
            self.db_url = self.database_url or f"sqlite:///{self.tmp / 'desk.db'}"

    def _seed(self) -> None:
        from api.auth import create_user
        from desk.db import init_db, session_scope

        init_db(self.db_url)
        with session_scope(self.db_url) as session:
            for name, (role, party) in USERS.items():
                create_user(session, username=name, password=PASSWORD, role=role, party_code=party)

    def _write_notify_config(self) -> None:
        lines = ["urls:"]
        for tag in (PARTY, f"{PARTY}-leaders", "supervisor"):
            lines += [f"  - json://127.0.0.1:{self.receiver_port}/{tag}:", f"    - tag: {tag}"]
        (self.tmp / "notify.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    async def _wait_for_temporal(self, timeout: float = 90) -> None:
        from temporalio.client import Client

        end = time.monotonic() + timeout
        while True:
            try:
                client = await Client.connect(self.address)
                await client.service_client.check_health()
                return
            except Exception:
                self.check_alive()
                if time.monotonic() > end:
                    raise
                await asyncio.sleep(0.5)

    async def _wait_http(self, path: str, timeout: float = 90) -> None:
        end = time.monotonic() + timeout
        while True:
            try:
                if (await self.http.get(path)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            self.check_alive()
            if time.monotonic() > end:
                raise RuntimeError(f"the API did not answer {path} within {timeout}s")
            await asyncio.sleep(0.3)


def terminate(proc: subprocess.Popen) -> None:
    """Stop one child we started (its own process group: the dev server has children of its own)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


async def warm_up(stack: Stack, n: int = 20) -> None:
    """Open a few incidents and wait until the workers have started their clocks (first workflow task),
    so imports and caches are loaded."""
    before = await stack.workflow_tasks()
    for _ in range(n):
        _, r = await stack.open()
        r.raise_for_status()
    await stack.wait_workflow_tasks(before + n, timeout=180)


def dump_json(path: Path | None, data: dict) -> None:
    if path:
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def sql_bench_arguments(p, runs_help: str = "timed runs (default 40)") -> None:  # noqa: ANN001 (an ArgumentParser)
    """The arguments every SQL benchmark takes: how many incidents, which databases, how many runs."""
    p.add_argument("--incidents", type=int, default=100_000)
    p.add_argument("--events-per-incident", type=int, default=10)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--pg-url", default=os.environ.get("DESK_BENCH_PG_URL",
                                                      "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    p.add_argument("--runs", type=int, default=40, help=runs_help)
    p.add_argument("--quick", action="store_true", help="2,000 incidents, a smoke run")


def on_each_database(name: str, args, run) -> int:  # noqa: ANN001 (parsed arguments; run(url) -> targets met)
    """Run ``run(url)`` on a fresh SQLite file and a fresh PostgreSQL database, each removed afterwards; print
    whether every target was met. Returns the process exit code (0: all met, 1: some missed, 2: bad argument)."""
    import shutil
    import tempfile
    import uuid

    from sqlalchemy import create_engine, text

    from desk.db import dispose_engine

    all_ok = True
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        print(f"\n[{backend}]", flush=True)
        if backend == "sqlite":
            tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
            url = f"sqlite:///{tmp / 'desk.db'}"
            try:
                all_ok &= run(backend, url)
            finally:
                dispose_engine(url)
                shutil.rmtree(tmp, ignore_errors=True)
        elif backend == "postgresql":
            db = f"bench_{name}_{uuid.uuid4().hex[:10]}"
            admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{db}"'))
            url = args.pg_url.rsplit("/", 1)[0] + f"/{db}"
            try:
                all_ok &= run(backend, url)
            finally:
                dispose_engine(url)
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
                admin.dispose()
        else:
            print(f"unknown backend {backend!r}: use sqlite and/or postgresql", file=sys.stderr)
            return 2
    print("\nall targets met" if all_ok else "\nsome targets missed")
    return 0 if all_ok else 1
