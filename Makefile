# Chorus: `make run` brings the platform up locally; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CACHE       ?= $(CURDIR)/.cache
UV_VERSION  := 0.13.9
TOOLS       := $(CACHE)/tools
UV          := $(TOOLS)/bin/uv
PYTHON      ?= python3
VENV_PY     := $(CURDIR)/.venv/bin/python
DEVSTACK    := $(PYTHON) deploy/local/devstack.py $(DEVSTACK_ARGS)
PYTEST_ARGS ?=
# The second tier of `make test` has a Kafka and a MongoDB-wire server of its own.
SECOND_TIER_PORTS ?= --kafka-port=29392 --kafka-controller-port=29393 --mongo-port=27418
export UV_CACHE_DIR := $(CACHE)/uv
export CHORUS_CACHE := $(CACHE)

.PHONY: help install web-assets asyncapi-parser browser promtool prometheus postgresql lint format schemas docs test run up down bench bench-tools clean

help:
	@echo "make run     - Kafka, MongoDB-wire server and every service, with demo data"
	@echo "               (RUN_ARGS=--observability: and Prometheus and Jaeger)"
	@echo "make test    - lint, then every test against real Kafka, MongoDB and Keycloak"
	@echo "make lint    - ruff and mypy"
	@echo "make schemas - regenerate contracts/schemas and docs/events from the models"
	@echo "make docs    - the event catalogue as an HTML page (.cache/docs/events/index.html)"
	@echo "make up/down - the same platform with docker compose"
	@echo "make bench   - the benchmarks in bench/"

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is needed (python3 --version)")'
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled at install, as the images do (UV_COMPILE_BYTECODE in services/Dockerfile):
# where PYTHONDONTWRITEBYTECODE is set, Python otherwise compiles every module it imports
# again in every process, 2.5 s of CPU for each service start (docs/architecture.md).
install: $(UV) web-assets
	@$(UV) sync --all-packages --frozen --quiet --compile-bytecode
	@$(VENV_PY) -m compileall -q -j 0 contracts/src chassis/src services/*/src

# The web app's front-end libraries, from the npm registry (services/web/package-lock.json).
web-assets: services/web/node_modules/.package-lock.json

services/web/node_modules/.package-lock.json: services/web/package.json services/web/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the web app's front-end libraries (apt-get install npm)"; exit 1; }
	@npm ci --prefix services/web --no-audit --no-fund --loglevel=error

# The AsyncAPI parser from the npm registry (contracts/asyncapi/package-lock.json), with which
# contracts/tests/test_asyncapi_parser.py checks the documents in docs/events.
asyncapi-parser: contracts/asyncapi/node_modules/.package-lock.json

contracts/asyncapi/node_modules/.package-lock.json: contracts/asyncapi/package.json contracts/asyncapi/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the AsyncAPI parser (apt-get install npm)"; exit 1; }
	@npm ci --prefix contracts/asyncapi --no-audit --no-fund --loglevel=error

# The browser tests drive Debian's Chromium (Playwright cannot download its own here); the
# leadership report's test turns its PDF into PNG pages with poppler's pdftoppm.
browser:
	@command -v chromium >/dev/null && command -v pdftoppm >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "the browser tests need chromium and pdftoppm (poppler-utils) on PATH"; exit 1; }; \
	  echo "installing Chromium and poppler-utils for the browser tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null; }

# Debian's prometheus package: its promtool checks and unit-tests the alert rules
# (tests/deploy/test_alerts.py) and lints every process's metrics, and its prometheus scrapes
# them beside `make run RUN_ARGS=--observability` (and in tests/e2e/test_make_run.py).
promtool prometheus:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "promtool and prometheus are needed on PATH (Prometheus)"; exit 1; }; \
	  echo "installing Prometheus and promtool (Debian's prometheus package)..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }

# FerretDB keeps its data in PostgreSQL, from Debian's packages (devstack's default backend;
# `--mongo-backend=sqlite` does without it).
postgresql:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "the devstack tests need PostgreSQL (Debian: apt-get install postgresql)"; exit 1; }; \
	  echo "installing PostgreSQL for the devstack tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

lint: install
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check --quiet .
	@$(UV) run --frozen mypy contracts/src/contracts chassis/src/chassis services/*/src/*

format: install
	@$(UV) run --frozen ruff format .
	@$(UV) run --frozen ruff check --fix .

# The JSON Schemas, then the AsyncAPI documents built from them (docs/events).
schemas: install
	@$(UV) run --frozen python -m contracts.schemas
	@$(UV) run --frozen python -m contracts.catalogue.asyncapi

# The event catalogue for other teams: one page from the AsyncAPI documents, with a copy of them.
docs: install
	@$(UV) run --frozen python -m contracts.catalogue.page $(CACHE)/docs/events

# Starts what is missing (or reuses running servers), runs everything, stops what it started.
# Keycloak (the OpenID Connect provider, deploy/local/keycloak) only here: `make run` keeps
# the development sign-in. The soak tests (marker `soak`: minutes of events through a worker
# killed again and again), those that build a server first (marker `builds`: Jaeger) and the
# long modules that need no identity provider (marker `long`) run in a second pytest beside
# the rest, on servers of their own (SECOND_TIER_PORTS), so that neither tier reads the
# other's events and the two take about as long; its report follows the main one. A tier with no
# test selected (exit 5) is not a failure.
test: lint browser promtool postgresql asyncapi-parser
	@$(DEVSTACK) start --fresh --keycloak
	@$(DEVSTACK) start --fresh $(SECOND_TIER_PORTS)
	@status=0; \
	  ( set -a; eval "$$($(DEVSTACK) env $(SECOND_TIER_PORTS))"; set +a; \
	    exec $(VENV_PY) -m pytest -m "soak or builds or long" $(PYTEST_ARGS) ) >$(CACHE)/second-tier.log 2>&1 & second=$$!; \
	  set -a; eval "$$($(DEVSTACK) env)"; set +a; \
	  $(VENV_PY) -m pytest -m "not soak and not builds and not long" $(PYTEST_ARGS); main=$$?; \
	  wait $$second; tier=$$?; \
	  echo "=== the second tier (pytest -m 'soak or builds or long') ==="; cat $(CACHE)/second-tier.log; \
	  for code in $$main $$tier; do [ $$code -eq 0 ] || [ $$code -eq 5 ] || status=$$code; done; \
	  [ $$main -ne 5 ] || [ $$tier -ne 5 ] || status=5; \
	  $(DEVSTACK) stop $(SECOND_TIER_PORTS); $(DEVSTACK) stop; exit $$status

run: install postgresql $(if $(findstring --observability,$(RUN_ARGS)),prometheus)
	@$(VENV_PY) deploy/local/run.py $(RUN_ARGS)

up:
	docker compose --env-file deploy/local/compose.env up --build --detach --wait

down:
	docker compose --env-file deploy/local/compose.env down

# The redirect bench runs wrk against share's links and against nginx serving the same 302
# (bench/redirect.py): Debian's wrk and nginx packages.
bench-tools:
	@command -v wrk >/dev/null && { command -v nginx >/dev/null || test -x /usr/sbin/nginx; } || { \
	  command -v apt-get >/dev/null || { echo "the benches need wrk and nginx on PATH (Debian: apt-get install wrk nginx)"; exit 1; }; \
	  echo "installing wrk and nginx for the redirect bench..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx >/dev/null; }

bench: install bench-tools postgresql
	@$(DEVSTACK) start
	@status=0; set -a; eval "$$($(DEVSTACK) env)"; set +a; \
	  for script in bench/*.py; do $(VENV_PY) $$script || status=$$?; done; \
	  $(DEVSTACK) stop; exit $$status

clean:
	rm -rf .venv $(CACHE) services/web/node_modules contracts/asyncapi/node_modules
