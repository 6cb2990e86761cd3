# ride-duration: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

BOOTSTRAP_PYTHON ?= python3
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
PIP_FLAGS ?= -q --disable-pip-version-check

$(VENV)/bin/python:
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(VENV)/bin/python
	$(PYTHON) -m pip install $(PIP_FLAGS) -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PYTHON) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	@touch $@

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: $(VENV)/.installed ## Create .venv and install the requirements (and this package, editable)

.PHONY: train
train: setup ## Set up, then train the lesson model (green 2021-01 -> 2021-02) into models/
	$(PYTHON) -m ride_duration train

.PHONY: test
test: $(VENV)/.installed-dev ## Set up with test tools, then run the test suite
	$(PYTHON) -m pytest

.PHONY: lint
lint: $(VENV)/.installed-dev ## Lint and check formatting with ruff
	$(PYTHON) -m ruff check .

.PHONY: clean
clean: ## Remove caches (keeps .venv, data/ and models/)
	rm -rf .pytest_cache .ruff_cache build src/*.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
