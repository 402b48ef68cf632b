# newswatch: `make run` (service on the embedded default), `make test` (quality gate + tests), `make bench`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := python3 -m uv

.PHONY: setup system-deps check format test test-fast run demo bench clean

# uv comes from PyPI when missing; it then installs the locked dependencies into .venv.
setup:
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

# redis-server, PostgreSQL and Chromium (Flower page test) come from Debian packages, when missing.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

check: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# One rerun of a failed test absorbs timing noise on a shared 2-core machine; a test that
# fails twice fails the run. A rerun is named, with its first failure, in the summary.
test: setup system-deps check
	$(PY) -m pytest -q -p no:cacheprovider --reruns 1 --reruns-delay 2 --rerun-show-tracebacks

test-fast: setup
	$(PY) -m pytest -q -x -m "not slow and not reliability"

run: setup
	$(VENV)/bin/newswatch run

demo: setup
	$(VENV)/bin/newswatch demo

bench: setup system-deps
	$(PY) bench/run_all.py --out docs/benchmarks.md

clean:
	rm -rf data artifacts .pytest_cache .mypy_cache .ruff_cache
