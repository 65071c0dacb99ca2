"""The production stack (docker-compose.yml, Dockerfile, .env.example, config/notify.example.yml).

These read the deployment files as text and run `docker-compose config`; they start no containers.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
SETTINGS_FILE = ROOT / "desk" / "settings.py"
TEMPORAL_FILE = ROOT / "desk" / "temporal.py"
NOTIFY_EXAMPLE = ROOT / "config" / "notify.example.yml"

# The `opinion-desk` subcommands a container may run; mirrors the commands defined in desk/cli.py.
CONTAINER_SUBCOMMANDS = {("api",), ("worker",), ("db", "upgrade"), ("doctor",)}

# DESK_-prefixed names that only feed compose interpolation and are not Settings fields.
COMPOSE_ONLY_VARS = {"DESK_DB_PASSWORD"}

APPRISE_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _compose_binary() -> str | None:
    return shutil.which("docker-compose") or (
        "/usr/bin/docker-compose" if Path("/usr/bin/docker-compose").exists() else None
    )


def _run_compose_config(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
    # Variables from the caller's shell would override .env and hide a missing entry.
    names_in_example = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in names_in_example and not k.startswith(("DESK_", "TEMPORAL_", "COMPOSE_"))
    }
    return subprocess.run(
        [binary, "-f", str(workdir / "docker-compose.yml"), "config", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    return tmp_path


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _desk_services(compose: dict) -> dict[str, dict]:
    return {
        name: service
        for name, service in compose["services"].items()
        if _command(service)[:1] == ["opinion-desk"]
    }


def _environment_keys(service: dict) -> set[str]:
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        return set(environment)
    return {entry.split("=", 1)[0] for entry in environment}


def _settings_fields() -> set[str]:
    tree = ast.parse(SETTINGS_FILE.read_text(), filename=str(SETTINGS_FILE))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            return {
                stmt.target.id
                for stmt in node.body
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
            }
    raise AssertionError(f"{SETTINGS_FILE} defines no class Settings")


def test_compose_file_is_valid_with_the_example_env(stack_dir: Path) -> None:
    result = _run_compose_config(stack_dir, "-q")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", ["DESK_SECRET_KEY", "DESK_DB_PASSWORD", "TEMPORAL_DB_PASSWORD"])
def test_compose_refuses_to_run_without_a_secret(stack_dir: Path, secret: str) -> None:
    env_file = stack_dir / ".env"
    kept = [line for line in env_file.read_text().splitlines() if not line.startswith(f"{secret}=")]
    env_file.write_text("\n".join(kept) + "\n")

    result = _run_compose_config(stack_dir, "-q")

    assert result.returncode != 0
    assert secret in result.stderr


def test_desk_containers_run_known_subcommands(compose: dict) -> None:
    desk = _desk_services(compose)
    assert {"migrate", "web", "worker"} <= set(desk)
    for name, service in desk.items():
        subcommand = tuple(_command(service)[1:])
        assert subcommand in CONTAINER_SUBCOMMANDS, f"{name}: opinion-desk {' '.join(subcommand)}"
    assert _command(desk["migrate"]) == ["opinion-desk", "db", "upgrade"]
    assert _command(desk["web"]) == ["opinion-desk", "api"]
    assert _command(desk["worker"]) == ["opinion-desk", "worker"]


def test_image_defaults_to_the_web_app() -> None:
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE.read_text(), re.M)
    assert cmd, "Dockerfile has no exec-form CMD"
    assert json.loads(cmd.group(1)) == ["opinion-desk", "api"]
    assert re.search(r"^USER\s+(?!root\b)\S+", DOCKERFILE.read_text(), re.M), "image must not run as root"


def test_worker_scales_by_count(compose: dict) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker


def test_attachments_are_kept_on_a_named_volume_at_the_data_dir(compose: dict) -> None:
    web = compose["services"]["web"]
    assert "desk-files:/var/lib/opinion-desk" in web["volumes"]  # DESK_DATA_DIR in the image (Dockerfile)
    assert "desk-files" in compose["volumes"]
    assert "./config/notify.yml:/etc/opinion-desk/notify.yml:ro" in web["volumes"]  # still mounted beside it
    worker = compose["services"]["worker"]  # writes the scheduled reports' files the web app serves
    assert "desk-files:/var/lib/opinion-desk" in worker["volumes"]
    assert "./config/notify.yml:/etc/opinion-desk/notify.yml:ro" in worker["volumes"]


def test_web_waits_for_migrations_and_temporal_setup(compose: dict) -> None:
    depends = compose["services"]["web"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["temporal-setup"]["condition"] == "service_completed_successfully"
    assert "/healthz" in " ".join(compose["services"]["web"]["healthcheck"]["test"])


def _desk_search_attributes() -> dict[str, str]:
    tree = ast.parse(TEMPORAL_FILE.read_text(), filename=str(TEMPORAL_FILE))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SEARCH_ATTRIBUTES" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{TEMPORAL_FILE} defines no SEARCH_ATTRIBUTES")


def test_temporal_setup_creates_the_desk_search_attributes(compose: dict) -> None:
    script = " ".join(_command(compose["services"]["temporal-setup"]))
    wanted = _desk_search_attributes()
    assert wanted
    assert "search-attribute create" in script
    # The setup job creates Keyword attributes only.
    assert "--type Keyword" in script
    assert set(wanted.values()) == {"Keyword"}, wanted
    for name in wanted:
        assert re.search(rf"\b{name}\b", script), f"temporal-setup does not create {name}"


def test_every_desk_variable_is_a_setting(compose: dict) -> None:
    fields = _settings_fields()

    in_containers = set()
    for service in _desk_services(compose).values():
        in_containers |= {k for k in _environment_keys(service) if k.startswith("DESK_")}
    in_containers |= set(re.findall(r"\b(DESK_[A-Z0-9_]+)=", DOCKERFILE.read_text()))
    in_example = set(re.findall(r"^#?\s*(DESK_[A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))

    assert in_containers, "no DESK_ variable reaches the desk containers"
    unknown = sorted(
        name
        for name in (in_containers | in_example) - COMPOSE_ONLY_VARS
        if name.removeprefix("DESK_").lower() not in fields
    )
    assert not unknown, f"not fields of desk.settings.Settings: {unknown}"

    compose_text = COMPOSE_FILE.read_text()
    for name in COMPOSE_ONLY_VARS:
        assert "${" + name in compose_text, f"{name} is listed as compose-only but compose never uses it"
        assert name.removeprefix("DESK_").lower() not in fields
        assert name not in in_containers


def test_notify_example_routes_by_party_and_supervisor_tags() -> None:
    import apprise

    config = apprise.AppriseConfig()
    assert config.add(str(NOTIFY_EXAMPLE))
    notifier = apprise.Apprise()
    notifier.add(config)

    tags = {str(tag) for service in notifier for tag in service.tags}
    assert len(notifier) >= 3
    assert {"bazhou", "bazhou-leaders", "supervisor"} <= tags
    assert all(APPRISE_TAG.match(tag) for tag in tags), sorted(tags)
    assert all("FAKE" in service.url(privacy=False) for service in notifier), "example must hold fake tokens only"


def _resolved(stack_dir: Path) -> dict:
    result = _run_compose_config(stack_dir)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_web_believes_forwarded_headers_only_from_the_host_proxy_and_sends_secure_cookies(stack_dir: Path) -> None:
    from desk.settings import Settings

    config = _resolved(stack_dir)
    env = config["services"]["web"]["environment"]
    assert str(env["DESK_COOKIE_SECURE"]).lower() == "true"
    proxies = Settings(_env_file=None, trusted_proxies=env["DESK_TRUSTED_PROXIES"]).resolved_trusted_proxies()
    # The proxy on the host reaches web through the published port: web sees the compose network's gateway.
    gateways = [c["gateway"] for c in config["networks"]["default"]["ipam"]["config"]]
    assert proxies == gateways, (proxies, gateways)


def test_the_web_port_is_published_on_the_host_loopback_only(stack_dir: Path) -> None:
    """The reverse proxy is the public face; metrics and every page are not reachable around it."""
    config = _resolved(stack_dir)
    for name, service in config["services"].items():
        for port in service.get("ports") or []:
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).rsplit(":", 2)[0]
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond the host"
    assert config["services"]["web"]["ports"], "web is published (for the proxy on the host)"


# --- what gets installed and run: locked by hash, pinned by digest -------------------------------------------

LOCKS = {"requirements.lock": (), "requirements-test.lock": ("test",)}


def _locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a pip-compile --generate-hashes file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        head = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if head:
            name = re.sub(r"[-_.]+", "-", head.group(1)).lower()
            entries[name] = (head.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return entries


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_the_lock_pins_every_dependency_with_hashes(lock: str) -> None:
    import tomllib

    from packaging.requirements import Requirement

    locked = _locked(ROOT / lock)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in LOCKS[lock]:
        wanted += [Requirement(r) for r in project["optional-dependencies"][extra]]
    for req in wanted:
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in locked, f"{lock} does not pin {req.name}"
        assert req.specifier.contains(locked[name][0], prereleases=True), f"{lock}: {name} {locked[name][0]} vs {req}"
    assert "setuptools" in locked, "the build backend is locked too (installs use --no-build-isolation)"
    unhashed = [name for name, (_v, hashes) in locked.items() if not hashes]
    assert not unhashed, f"{lock}: no hash for {unhashed}"
    assert "file://" not in (ROOT / lock).read_text() and "/opt/" not in (ROOT / lock).read_text()


def test_make_the_image_and_ci_install_only_from_the_locks() -> None:
    # The recipe that `make up` and `make test` (and so CI) run before anything else.
    recipe = re.search(r"^\$\(STAMP\):.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    installs = [line.strip() for line in recipe.splitlines() if "pip install" in line]
    assert installs == ["$(PY) -m pip install -q --require-hashes -r requirements-test.lock",
                        "$(PY) -m pip install -q --no-deps --no-build-isolation -e ."], installs
    assert "make test" in (ROOT / ".ci" / "run").read_text()  # CI runs the Makefile's install
    dockerfile = DOCKERFILE.read_text()
    runs = re.findall(r"^RUN (.*(?:\\\n.*)*)", dockerfile, re.M)
    installs = [r for r in runs if "pip install" in r]
    assert installs and installs[0].startswith("pip install --require-hashes -r requirements.lock"), installs
    assert all("--require-hashes" in r or "--no-deps" in r for r in installs), installs


def _images(config: dict) -> dict[str, str]:
    return {name: s["image"] for name, s in config["services"].items() if "build" not in s}


@pytest.mark.xfail(strict=True, reason="TODO(digest): no registry was reachable to look the digests up; see "
                                       "docker-compose.yml and the Dockerfile for the command that finds them")
def test_every_base_image_is_pinned_by_digest(stack_dir: Path) -> None:
    unpinned = {name: image for name, image in _images(_resolved(stack_dir)).items() if "@sha256:" not in image}
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text(), re.M).group(1)
    if "@sha256:" not in default:
        unpinned["Dockerfile"] = default
    assert unpinned == {}, f"pinned by tag only: {unpinned}"
