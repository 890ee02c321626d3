# The two quick-start commands (README): `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-test demo test lint typecheck migrations-check benchmark

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

# The main job on the embedded default: a fresh SQLite registry from the bundled fixtures, and
# the study report computed from it (`masreg demo`).
demo: install
	$(BIN)/masreg demo

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-test
	$(BIN)/mypy

# Migrations match the models: upgrade a scratch database, then `alembic check`.
migrations-check: install-test
	rm -f .alembic-check.db
	MASREG_DB=sqlite:///.alembic-check.db $(BIN)/alembic upgrade head
	MASREG_DB=sqlite:///.alembic-check.db $(BIN)/alembic check
	rm -f .alembic-check.db

test: lint typecheck migrations-check
	$(BIN)/pytest

benchmark: install-test
	$(BIN)/python benchmarks/import_rate.py
