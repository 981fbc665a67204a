# The social asset register. `make run` serves it; `make test` runs the whole suite on SQLite and PostgreSQL.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PG_TEST_DSN ?= postgresql://postgres@127.0.0.1:5432/postgres
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test test-sqlite test-postgres test-topology lint format bench bench-topology demo migrate install install-dev clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

# The pages' message catalogues, compiled from the .po files kept in git (the .mo files are not).
CATALOGUES := $(wildcard register/locale/*/LC_MESSAGES/messages.po)
COMPILED   := $(CATALOGUES:.po=.mo)

register/locale/%/LC_MESSAGES/messages.mo: register/locale/%/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

install: $(VENV)/.installed $(COMPILED)
install-dev: $(VENV)/.installed-dev $(COMPILED)

## Serve on http://$(HOST):$(PORT) with SQLite under ./var/ (migrates and creates the first admin).
run: install
	$(BIN)/register serve --host $(HOST) --port $(PORT)

migrate: install
	$(BIN)/register migrate

demo: install
	$(BIN)/register demo

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## The whole suite on SQLite and on PostgreSQL, side by side (each run prints when it ends; the
## two databases share no state). Under CI=true a missing PostgreSQL fails the run.
test: install-dev lint
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-sqlite: install-dev
	@echo "== test suite on SQLite =="
	REGISTER_TEST_DATABASE=sqlite $(BIN)/python -m pytest

test-postgres: install-dev
	@if $(BIN)/python -c "import asyncio, asyncpg; asyncio.run(asyncpg.connect('$(PG_TEST_DSN)', timeout=5))" 2>/dev/null; then \
		echo "== test suite on PostgreSQL =="; \
		REGISTER_TEST_DATABASE=postgres REGISTER_TEST_PG_ADMIN=$(PG_TEST_DSN) $(BIN)/python -m pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL is not reachable at $(PG_TEST_DSN): under CI=true this is a failure"; exit 1; \
	else \
		echo "WARNING: PostgreSQL is not reachable at $(PG_TEST_DSN); the PostgreSQL run was SKIPPED"; \
	fi

## The deployment beyond one machine, for real (not part of `make test`): a PostgreSQL primary and
## streaming replica, two `register serve` behind HAProxy, two `register worker`, a mixed workload
## while a server and a worker are killed; prints its counts (tests/topology/).
test-topology: install-dev
	@command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || (apt-get update -qq && apt-get install -y -qq haproxy) || (sudo apt-get update -qq && sudo apt-get install -y -qq haproxy)
	REGISTER_TEST_TOPOLOGY=1 $(BIN)/python -m pytest -p no:logging -s tests/topology

## Benchmarks against the real server with wrk (installed from Debian's packages if missing).
bench: install-dev
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || (sudo apt-get update -qq && sudo apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py

## The topology benchmark alone: HAProxy in front of 1 and 2 app processes, reads with and without
## the replica, and what the primary absorbs (bench/topology.py).
bench-topology: install-dev
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || (sudo apt-get update -qq && sudo apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py topology

clean:
	rm -rf $(VENV) var bench/results .pytest_cache .ruff_cache .hypothesis

## Refresh the message catalogue from the code and templates (then translate the new entries in
## register/locale/nl/LC_MESSAGES/messages.po; `make install` compiles it).
messages: install-dev
	$(BIN)/pybabel extract -F register/locale/babel.cfg -k N_ --no-location --sort-output \
		--project social-asset-register --copyright-holder "the social asset register's authors" \
		-o register/locale/messages.pot register accounts incidents
	$(BIN)/pybabel update --ignore-obsolete --width 100 -i register/locale/messages.pot \
		-d register/locale -l nl
