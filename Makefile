# Chairfill: `make demo` to try it, `make test` to run the suite. Both set everything up.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: help demo test lint format migrate run worker clean

help:
	@echo "make demo   - set up, load demo data, run the web server and job worker"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff check and format check"

# The virtualenv is rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@PYTHON=$$(scripts/find_python.sh) || exit 1; \
	if [ -x $(PY) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
		echo "$(VENV) was made with an older Python: making it again"; rm -rf $(VENV); fi; \
	if [ ! -x $(PY) ]; then echo "Creating $(VENV) with $$PYTHON"; "$$PYTHON" -m venv $(VENV) || exit 1; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

# A development .env with fresh secrets, written once.
.env: | $(VENV)/.installed
	$(PY) scripts/write_dev_env.py .env

migrate: $(VENV)/.installed .env
	$(PY) manage.py migrate --no-input
	$(PY) manage.py createcachetable

# The demo's centers call the sandbox on this same server, so SITE_URL follows HOST and PORT.
demo: export SITE_URL = http://$(HOST):$(PORT)
# Lumen's demo webhook endpoint is the sandbox's receiver on this same (local) server.
demo: export WEBHOOK_ALLOW_PRIVATE_NETWORKS = 1
demo: migrate
	$(PY) manage.py seed_demo
	@$(PY) scripts/demo.py $(HOST) $(PORT)

run: migrate
	$(PY) manage.py runserver $(HOST):$(PORT)

worker: migrate
	$(PY) manage.py qcluster

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
