# Chairfill: `make demo` to try it, `make test` to run the suite. Both set everything up.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: help demo test lint format migrate run worker e2e-browser clean

help:
	@echo "make demo   - set up, load demo data, run the web server and job worker"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff check and format check"

# The virtualenv is rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@PYTHON=$$(scripts/find_python.sh) || exit 1; \
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

demo: migrate
	$(PY) manage.py seed_demo
	@echo
	@echo "  Dashboard:      http://$(HOST):$(PORT)/accounts/login/"
	@echo "  Agency console: http://$(HOST):$(PORT)/agency/glow-growth/"
	@echo "  Django admin:   http://$(HOST):$(PORT)/admin/  (create a staff user with: $(PY) manage.py createsuperuser)"
	@echo "  Health:         http://$(HOST):$(PORT)/readyz"
	@echo
	@echo "  Web server and job worker running; Ctrl-C stops both."
	@trap 'kill $$web $$worker 2>/dev/null; wait $$web $$worker 2>/dev/null; echo; echo "Stopped."; exit 0' INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT) & web=$$!; \
	$(PY) manage.py qcluster & worker=$$!; \
	wait -n $$web $$worker; kill $$web $$worker 2>/dev/null; wait; exit 1

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
