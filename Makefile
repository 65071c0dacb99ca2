# Two commands on a fresh machine with Python 3.11:  make up  ·  make test
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test test-sqlite test-postgresql system-deps bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

## Bring the whole desk up on the embedded default (Temporal dev server + worker + web, SQLite under ./data)
up: $(STAMP)
	$(VENV)/bin/opinion-desk up

## Run the whole test suite: on SQLite, then on the PostgreSQL at 127.0.0.1:5432 (database `test`)
test: $(STAMP) system-deps
	$(PY) -m pytest
	@if scripts/pg-ready; then DESK_TEST_DATABASE=postgresql $(PY) -m pytest -m "not sqlite_only"; \
	else echo "PostgreSQL is not reachable at 127.0.0.1:5432: the PostgreSQL pass was skipped"; fi

test-sqlite: $(STAMP)
	$(PY) -m pytest

test-postgresql: $(STAMP)
	DESK_TEST_DATABASE=postgresql $(PY) -m pytest -m "not sqlite_only"

## Debian packages the tests drive: chromium (browser tests), docker-compose (compose file validation)
system-deps:
	@scripts/system-deps

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info
