# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_HOME ?= .hitl-demo

.PHONY: demo test lint bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,postgres,examples,server,web,serve]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hitl --home $(DEMO_HOME) console --demo 6 --think 1.5

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/approval_queue.py
	$(BIN)/python bench/foreign.py
	$(BIN)/python bench/adoption.py
	$(BIN)/python bench/remote.py
	$(BIN)/python bench/notify.py
	$(BIN)/python bench/http_api.py

# Every table of both benchmarks in tiny sizes: a smoke run (CI), not numbers.
bench-quick: $(STAMP)
	$(BIN)/python bench/engine.py --quick
	$(BIN)/python bench/console.py --quick
	$(BIN)/python bench/approval_queue.py --quick
	$(BIN)/python bench/foreign.py --quick
	$(BIN)/python bench/adoption.py --quick
	$(BIN)/python bench/remote.py --quick
	$(BIN)/python bench/notify.py --quick
	$(BIN)/python bench/http_api.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
