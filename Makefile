# ride-duration: `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

BOOTSTRAP_PYTHON ?= python3
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
# pip shows what it collects and installs as it goes (a first setup takes a few minutes);
# PIP_FLAGS=-q silences it.
PIP_FLAGS ?= --disable-pip-version-check --progress-bar on

# With PYTHON pointing elsewhere (a conda environment), no .venv is created; the stamps that
# record what was installed still live in $(VENV)/.
ifeq ($(PYTHON),$(VENV)/bin/python)
VENV_PYTHON := $(VENV)/bin/python
endif

$(VENV)/bin/python:
	@echo "==> creating the virtual environment $(VENV)"
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-runtime.txt pyproject.toml | $(VENV_PYTHON)
	@echo "==> installing requirements.txt: the runtime pins, Jupyter and this package (a few minutes the first time)"
	$(PYTHON) -m pip install $(PIP_FLAGS) -r requirements.txt
	@mkdir -p $(VENV) && touch $@
	@echo "==> set up: source $(VENV)/bin/activate puts ride-duration on your PATH"

$(VENV)/.installed-dev: requirements-dev.txt requirements-mlflow.txt requirements-orchestrate.txt $(VENV)/.installed
	@echo "==> installing requirements-dev.txt: the test and lint tools"
	$(PYTHON) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	@touch $@

$(VENV)/.installed-mlflow: requirements-mlflow.txt $(VENV)/.installed
	@echo "==> installing requirements-mlflow.txt: MLflow (tracking, registry, its UI)"
	$(PYTHON) -m pip install $(PIP_FLAGS) -r requirements-mlflow.txt
	@touch $@

$(VENV)/.installed-orchestrate: requirements-orchestrate.txt requirements-mlflow.txt $(VENV)/.installed
	@echo "==> installing requirements-orchestrate.txt: Prefect (the loop on a schedule) and MLflow"
	$(PYTHON) -m pip install $(PIP_FLAGS) -r requirements-orchestrate.txt
	@touch $@

$(VENV)/.installed-bench: requirements-bench.txt requirements-orchestrate.txt requirements-mlflow.txt $(VENV)/.installed
	@echo "==> installing requirements-bench.txt: the benchmarks' extras"
	$(PYTHON) -m pip install $(PIP_FLAGS) -r requirements-bench.txt
	@touch $@

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: setup
setup: $(VENV)/.installed ## Create .venv and install the requirements (and this package, editable)

.PHONY: setup-dev
setup-dev: $(VENV)/.installed-dev ## Create .venv with the requirements and the test/lint tools

.PHONY: train
train: setup ## Set up, then train the lesson model (green 2021-01 -> 2021-02) into models/ and plot it
	$(PYTHON) -m ride_duration train
	$(PYTHON) -m ride_duration plots

.PHONY: plots
plots: setup ## Draw images/duration_distribution.png and prediction_vs_actual.png for models/lin_reg.bin
	$(PYTHON) -m ride_duration plots

.PHONY: data
data: setup ## Download the lesson months and the zone lookup into data/
	$(PYTHON) -m ride_duration download --taxi green --month 2021-01 --month 2021-02 --zones

.PHONY: homework
homework: setup ## Answer the week-1 homework (COHORT=2025 by default)
	$(PYTHON) -m ride_duration homework --cohort $(or $(COHORT),2025)

.PHONY: test
test: $(VENV)/.installed-dev ## Set up with test tools, then run the test suite (JOBS=1: one process)
	$(PYTHON) -m pytest -n $(or $(JOBS),auto) --dist loadfile

.PHONY: test-durations
test-durations: $(VENV)/.installed-dev ## Run the suite and record each test file's seconds (tests/durations.json: slowest files run first)
	$(PYTHON) -m pytest -n $(or $(JOBS),auto) --dist loadfile --junitxml=.test-durations.xml
	$(PYTHON) tools/test_durations.py .test-durations.xml && rm -f .test-durations.xml

.PHONY: lint
lint: $(VENV)/.installed-dev ## Lint with ruff and check the import layers (import-linter)
	$(PYTHON) -m ruff check .
	$(dir $(PYTHON))lint-imports

.PHONY: notebooks
notebooks: setup ## Execute both notebooks in place, for a local look (outputs are stripped on commit)
	@# Fetch their months first: without them this stops on the download's one-line message.
	$(PYTHON) -m ride_duration download --quiet --taxi green --month 2021-01 --month 2021-02
	$(PYTHON) -m ride_duration download --quiet --taxi yellow --month 2023-01 --month 2023-02
	$(PYTHON) -m jupyter nbconvert --to notebook --execute --inplace notebooks/duration_prediction.ipynb
	$(PYTHON) -m jupyter nbconvert --to notebook --execute --inplace notebooks/Homework_week1.ipynb

.PHONY: hooks
hooks: $(VENV)/.installed-dev ## Install the pre-commit hooks (nbstripout, ruff)
	$(VENV)/bin/pre-commit install

.PHONY: images
images: setup ## Redraw the README diagrams in images/ (byte for byte the same on every run)
	$(PYTHON) tools/diagrams.py

.PHONY: clean
clean: ## Remove caches (keeps .venv, data/ and models/)
	rm -rf .pytest_cache .ruff_cache build src/*.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +

.PHONY: bench
bench: $(VENV)/.installed-bench ## Benchmark train against the course approach and its XGBoost (minutes)
	$(PYTHON) benchmarks/bench.py

.PHONY: bench-serve
bench-serve: $(VENV)/.installed-bench ## Load-test the service against the course's Flask app (a minute)
	$(PYTHON) benchmarks/bench_serve.py

.PHONY: setup-mlflow
setup-mlflow: $(VENV)/.installed-mlflow ## Set up, then install MLflow (train --track, promote, monitor, retrain)

.PHONY: mlflow-ui
mlflow-ui: $(VENV)/.installed-mlflow ## MLflow's UI over mlflow.db (runs, registry) on http://127.0.0.1:5000
	@echo "==> the project's runs: http://127.0.0.1:5000/#/experiments?workflowType=machine_learning (MLflow 3 opens on its GenAI view otherwise)"
	$(dir $(PYTHON))mlflow server --backend-store-uri sqlite:///$(CURDIR)/mlflow.db \
		--artifacts-destination $(CURDIR)/mlruns --host 127.0.0.1 --port 5000

.PHONY: setup-orchestrate
setup-orchestrate: $(VENV)/.installed-orchestrate ## Set up, then install Prefect and MLflow (ride-duration loop)

PREFECT_PORT ?= 4200
.PHONY: orchestrate
orchestrate: $(VENV)/.installed-orchestrate ## The loop by itself: a Prefect server on http://127.0.0.1:4200 and the monthly schedule
	@echo "==> prefect server on http://127.0.0.1:$(PREFECT_PORT) (its UI shows the runs); Ctrl-C stops both"
	@trap 'kill $$server 2>/dev/null' EXIT INT TERM; \
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(dir $(PYTHON))prefect server start \
		--host 127.0.0.1 --port $(PREFECT_PORT) & server=$$!; \
	for _ in $$(seq 60); do curl -sf http://127.0.0.1:$(PREFECT_PORT)/api/health >/dev/null && break; sleep 1; done; \
	PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api $(PYTHON) -m ride_duration loop serve $(LOOP_FLAGS)

.PHONY: live
live: setup ## The service (two workers) with Prometheus on :9090 and Alertmanager on :9093 (Debian: apt-get install prometheus prometheus-alertmanager)
	@command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null || \
		{ echo "make live needs Prometheus and Alertmanager: apt-get install -y prometheus prometheus-alertmanager (Debian, Ubuntu)"; exit 2; }
	@mkdir -p logs
	@echo "==> Prometheus http://127.0.0.1:9090/alerts, Alertmanager http://127.0.0.1:9093; Ctrl-C stops all three"
	@trap 'kill $$prom $$am 2>/dev/null' EXIT INT TERM; cd deploy/prometheus; \
	prometheus-alertmanager --config.file=alertmanager.yml --storage.path=$(CURDIR)/logs/alertmanager \
		--web.listen-address=127.0.0.1:9093 --cluster.listen-address= >$(CURDIR)/logs/alertmanager.log 2>&1 & am=$$!; \
	prometheus --config.file=prometheus.yml --storage.tsdb.path=$(CURDIR)/logs/prometheus \
		--web.listen-address=127.0.0.1:9090 >$(CURDIR)/logs/prometheus.log 2>&1 & prom=$$!; \
	cd $(CURDIR) && $(PYTHON) -m ride_duration serve --workers 2

.PHONY: serve
serve: setup ## Serve models/lin_reg.bin on http://127.0.0.1:9696 (POST /predict)
	$(PYTHON) -m ride_duration serve

.PHONY: docker
docker: ## Build the service's image, ride-duration:latest (run `make train` first: it copies models/)
	docker build -t ride-duration:latest $(if $(BASE),--build-arg BASE=$(BASE)) .

.PHONY: docker-base
docker-base: ## Make the local base image from Debian's packages (debootstrap, root) if the default cannot be pulled
	$(BOOTSTRAP_PYTHON) tools/docker_image.py base

.PHONY: docker-test
docker-test: $(VENV)/.installed-dev ## Build the image and test it in real containers (exits 2 without a Docker daemon)
	@$(PYTHON) tools/docker_image.py check
	$(PYTHON) -m pytest -p no:cacheprovider tests/image
