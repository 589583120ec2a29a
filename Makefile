# Industry Brain — the two commands a new user needs are `make up` and `make test`.
# Everything they depend on is installed here; nothing is done by hand.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# pytest-timeout guards against a hung server; the whole suite stays far below CI's limit.
PYTEST_ARGS ?=

.PHONY: help install system-deps up down test test-unit test-integration test-e2e lint format bench reliability clean

help:
	@echo "make up      start the platform on its embedded defaults (MLflow UI on :5000)"
	@echo "make test    run the whole test suite (unit, integration, e2e)"
	@echo "make lint    ruff + mypy"
	@echo "make bench   run the benchmarks in bench/ (JSON in bench/results/)"
	@echo "make reliability  kill what can die under load; table in docs/reliability.md (~20 min)"

# torch is pinned in pyproject.toml (torch==2.13.0): an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $(STAMP)

# Apache ECharts for the portal, from the npm registry (package.json + package-lock.json in deploy/portal);
# never committed, never from a CDN. npm ci runs only when node_modules is missing or older than the lock.
PORTAL_JS := deploy/portal/node_modules/.package-lock.json
$(PORTAL_JS): deploy/portal/package-lock.json
	@command -v npm >/dev/null 2>&1 || $(MAKE) system-deps
	cd deploy/portal && npm ci --no-audit --no-fund
	@touch $@

install: $(STAMP) $(PORTAL_JS)

# Debian packages the tests and benchmarks use: PostgreSQL (a throwaway server per test
# session), wrk (load generator), chromium (the portal's browser tests drive it through Playwright) and
# nodejs/npm (install the portal's JavaScript), fonts-wqy-zenhei (so that chromium draws Chinese).
# Installed only when missing, and only where we can.
SYSTEM_DEPS := postgresql wrk chromium fonts-wqy-zenhei nodejs npm
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1 \
			|| ! command -v chromium >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1 \
			|| ! fc-list :lang=zh 2>/dev/null | grep -q . ; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian packages: $(SYSTEM_DEPS)"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_DEPS) >/dev/null) \
				|| echo "warning: could not install $(SYSTEM_DEPS); the tests that need them will skip and say so"; \
		else \
			echo "note: one of $(SYSTEM_DEPS) is missing and we are not root; the tests that need it will skip and say so"; \
		fi; \
	fi

up: install
	$(BIN)/brain up

down: install
	$(BIN)/brain down

test: install system-deps
	$(BIN)/pytest -q $(PYTEST_ARGS)

test-unit: install
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

test-integration: install system-deps
	$(BIN)/pytest -q tests/integration $(PYTEST_ARGS)

test-e2e: install
	$(BIN)/pytest -q tests/e2e $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Peers for bench/serving.py live in their own venv: MLServer pins packages that clash with Ray's.
PEERS_VENV := .venv-mlserver
$(PEERS_VENV)/.installed-stamp:
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --disable-pip-version-check -q "mlserver==1.7.1" "mlserver-mlflow==1.7.1" "uvloop<0.22" onnxruntime onnx
	@touch $@

bench: install system-deps $(PEERS_VENV)/.installed-stamp
	$(BIN)/python bench/catalog_search.py
	$(BIN)/python bench/scheduler_sim.py
	$(BIN)/python bench/scheduler_throughput.py
	$(BIN)/python bench/serving.py --mlserver-venv $(PEERS_VENV)

# The fault scenarios of bench/reliability/ (each in its own process, bounded in time); they start Ray,
# MLflow and the platform, so they wait for the lock that the platform's tests take too.
reliability: install system-deps
	flock /tmp/brain-ray.lock $(BIN)/python bench/reliability/run.py

clean:
	rm -rf $(VENV) $(PEERS_VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info deploy/portal/node_modules
