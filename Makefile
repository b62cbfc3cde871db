# Tailor: `make up` starts everything, `make test` runs the tests. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export TAILOR_DATA_DIR ?= $(CURDIR)/.tailor-data
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: up install install-test test lint bench-import bench-serving bench-batch bench-dashboard clean-data help

help:
	@echo "make up           set up .venv, load the sample on first start, serve dashboard + API"
	@echo "make test         set up .venv with the test extras and run the whole test suite"
	@echo "make lint         ruff check"
	@echo "make bench-import import benchmark (1M rows) against DuckDB's own read_csv"
	@echo "make bench-serving get_recommendations over HTTP vs a bare endpoint (10k items)"
	@echo "make bench-batch  batch inference jobs (users/s, top 25) vs a numpy product + argpartition"
	@echo "make bench-dashboard each page's first render and cached rerender (1M interactions)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

up: install
	$(BIN)/tailor up --sample --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check engine dashboard tests bench

bench-import: install
	$(BIN)/python bench/import/run.py

bench-serving: install
	$(BIN)/python bench/serving/run.py

bench-batch: install
	$(BIN)/python bench/batch/run.py

bench-dashboard: install
	$(BIN)/python bench/dashboard/run.py --repeat 5 --tabs

clean-data:
	rm -rf $(TAILOR_DATA_DIR)
