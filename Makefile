# dataplat: two commands on a fresh machine.
#   make up     set up everything, start Kafka, run the main job, print a summary
#   make test   the whole test suite (what .ci/run runs)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
JARS_STAMP := .jars/.resolved

.PHONY: up setup test ui lint format bench down status clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

up: setup ## set up, start Kafka, run simulators -> bronze -> silver -> gold, print a summary
	$(BIN)/dataplat up

setup: $(VENV_STAMP) $(JARS_STAMP) .env ## Python deps in .venv, JVM jars in .jars, .env with local defaults

$(VENV_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"dataplat needs Python 3.11, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(JARS_STAMP): jvm/pom.xml jvm/kafka-broker/pom.xml jvm/spark-extras/pom.xml
	@command -v java >/dev/null || { echo "Java 17 is required (apt-get install openjdk-17-jdk-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required (apt-get install maven)"; exit 1; }
	rm -rf .jars/kafka .jars/spark
	mvn --quiet --batch-mode -f jvm/pom.xml package
	touch $@

.env: | $(VENV_STAMP)
	$(BIN)/dataplat init

test: setup ## run the whole test suite against real Kafka, Delta and Spark
	$(BIN)/pytest

ui: setup ## the Dagster UI (webserver + daemon) at http://127.0.0.1:3000
	$(BIN)/dataplat ui

lint: setup ## ruff, formatting and the layering contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup ## the benchmarks (JSON in bench/results/)
	$(BIN)/python bench/simulators_bench.py
	$(BIN)/python bench/ingest_bench.py run
	$(BIN)/python bench/sensor_latency_bench.py
	$(BIN)/python bench/spark_bench.py

status: setup ## is Kafka up, how full are the topics
	$(BIN)/dataplat kafka status

down: ## stop the local Kafka broker
	$(BIN)/dataplat kafka stop

clean: down ## remove all local state (Kafka data, the lake, Dagster's storage)
	rm -rf .dataplat
