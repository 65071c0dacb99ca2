# Two commands on a fresh machine with Python 3.11:  make up  ·  make test
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test lint test-sqlite test-postgresql system-deps bench clean lock

# Every package comes from the lock file, each checked against its sha256 (a tampered or substituted download
# fails the install); then the desk itself, with no further downloads (setuptools is in the lock too).
$(STAMP): pyproject.toml requirements-test.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements-test.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

## Re-pin requirements.lock (runtime: the image) and requirements-test.lock (make up/test, CI) from pyproject.toml,
## with hashes. A development step: pip-tools goes into .venv, never into a lock. UPGRADE=1 takes newer versions.
LOCK := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --all-build-deps --strip-extras \
	--no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade)
lock: $(STAMP)
	$(PY) -m pip install -q -e ".[lock]"
	$(LOCK) --extra test -o requirements-test.lock pyproject.toml
	cp requirements-test.lock requirements.lock  # start from the same pins: runtime = test minus the test tools
	$(LOCK) -o requirements.lock pyproject.toml

## Bring the whole desk up on the embedded default (Temporal dev server + worker + web, SQLite under ./data)
up: $(STAMP)
	$(VENV)/bin/opinion-desk up

## Lint (ruff) and type-check (mypy: desk, workflows, activities, api), then the whole test suite: on SQLite, then on
## the PostgreSQL at 127.0.0.1:5432 (database `test`). Each pass runs the long faults beside the rest (scripts/test-pass).
test: $(STAMP) system-deps lint
	PY=$(PY) scripts/test-pass
	@if scripts/pg-ready; then DESK_TEST_DATABASE=postgresql PY=$(PY) scripts/test-pass -m "not sqlite_only"; \
	else echo "PostgreSQL is not reachable at 127.0.0.1:5432: the PostgreSQL pass was skipped"; fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test-sqlite: $(STAMP)
	PY=$(PY) scripts/test-pass

test-postgresql: $(STAMP)
	DESK_TEST_DATABASE=postgresql PY=$(PY) scripts/test-pass -m "not sqlite_only"

## Debian packages the tests drive: chromium (browser tests), docker-compose (compose file validation)
system-deps:
	@scripts/system-deps

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info
