# newsmon — `make help` lists the targets. `make demo` and `make test` are the two
# commands a newcomer needs; both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
KAFKA     := deploy/kafka/kafka.sh
PACKAGES  := monitor agents newsmon

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

.PHONY: install
install: $(STAMP) ## create .venv with newsmon and its dev tools (.venv/bin/newsmon)

.PHONY: lock
lock: install ## re-resolve constraints.txt (every dependency, exact) from pyproject.toml
	$(BIN)/pip install --quiet "pip-tools>=7.4,<8"
	$(BIN)/pip-compile --quiet --all-extras --strip-extras --no-emit-index-url \
	  --no-emit-find-links --output-file=constraints.txt pyproject.toml

.PHONY: system-deps
system-deps: ## install Debian's prometheus, alertmanager, kcat and chromium where absent (needs root)
	@bash deploy/system-deps.sh

.PHONY: kafka-up
kafka-up: ## start the local Kafka broker (KRaft, 127.0.0.1:9092)
	@bash $(KAFKA) up

.PHONY: kafka-down
kafka-down: ## stop the local Kafka broker
	@bash $(KAFKA) down

.PHONY: up
up: install kafka-up ## start Kafka and a worker in the background and keep them running
	@bash deploy/worker.sh start

.PHONY: down
down: ## stop the background worker and Kafka
	@bash deploy/worker.sh stop
	@bash $(KAFKA) down

.PHONY: demo
demo: install ## start Kafka and a worker, replay seeds/, show the alerts, stop everything
	@bash deploy/demo.sh

.PHONY: lint
lint: install ## ruff lint and format check, import-linter layer contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

.PHONY: typecheck
typecheck: install ## mypy --strict on the packages
	$(BIN)/mypy

.PHONY: fmt
fmt: install ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: check
check: lint typecheck ## everything static that CI runs

.PHONY: test
test: install system-deps check ## install, start Kafka, run every test, stop Kafka
	@bash deploy/run-tests.sh

.PHONY: test-unit
test-unit: install ## unit and agent tests only (no broker)
	$(BIN)/pytest -q tests/unit tests/agents

.PHONY: chaos
chaos: install ## full-size fault injection: 10,000 fuzzed messages, 5,000 articles with kills
	@bash deploy/run-tests.sh tests/integration/test_fuzz.py tests/integration/test_chaos.py \
	  tests/integration/test_broker_restart.py
chaos: export NEWSMON_FUZZ_BAD := 10000
chaos: export NEWSMON_CHAOS_ARTICLES := 5000
chaos: export NEWSMON_CHAOS_RATE := 100
chaos: export NEWSMON_CHAOS_KILLS := 5

.PHONY: chaos-cluster
chaos-cluster: install ## three Kafka nodes, 5,000 articles: leader and second-node kills, controller failover
	@bash deploy/run-tests.sh tests/integration/test_cluster_chaos.py
chaos-cluster: export NEWSMON_CHAOS_ARTICLES := 5000
chaos-cluster: export NEWSMON_CLUSTER_FULL := 1

.PHONY: bench
bench: install ## full benchmark through the real broker vs references (bench/results/latest.md)
	@started=; if ! bash $(KAFKA) status >/dev/null 2>&1; then bash $(KAFKA) up && started=1; fi; \
	$(PY) bench/run.py; rc=$$?; [ -n "$$started" ] && bash $(KAFKA) down; exit $$rc

.PHONY: bench-quick
bench-quick: install ## the same benchmark at small sizes (under 5 minutes)
	@started=; if ! bash $(KAFKA) status >/dev/null 2>&1; then bash $(KAFKA) up && started=1; fi; \
	$(PY) bench/run.py --quick; rc=$$?; [ -n "$$started" ] && bash $(KAFKA) down; exit $$rc

.PHONY: soak
soak: install ## 30 minutes at a steady rate through one worker; RSS at start and end
	@started=; if ! bash $(KAFKA) status >/dev/null 2>&1; then bash $(KAFKA) up && started=1; fi; \
	$(PY) bench/soak.py --minutes 30 --rate 8; rc=$$?; [ -n "$$started" ] && bash $(KAFKA) down; exit $$rc

.PHONY: eval
eval: install ## topic tagging on the validation split, with intervals (needs ../shared/corpus)
	$(PY) -m bench.topics.evaluate --split validation

.PHONY: eval-test
eval-test: install ## the same on the frozen test split: run once, when done, never to tune
	$(PY) -m bench.topics.evaluate --split test

.PHONY: train
train: install ## rebuild monitor/data/topic_model.json from tests/data (needs ../shared/corpus)
	$(PY) -m bench.topics.train

.PHONY: clean
clean: ## remove caches and local state (keeps .venv)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .newsmon-data .demo .e2e
