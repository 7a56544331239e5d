# The two commands: `make demo` runs the main job, `make test` runs every test.
# Each creates .venv when needed and reinstalls only when what the install reads changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lab lint bench clean

demo: $(VENV)/.installed-run
	$(BIN)/workbench demo

test: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks notebooks
	$(BIN)/python -m pytest

lab: $(VENV)/.installed-dev
	$(BIN)/jupyter lab --ip=127.0.0.1 notebooks/

bench: $(VENV)/.installed-dev
	for area in benchmarks/[!_]*.py; do $(BIN)/python $$area --quick || exit 1; done

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setup.py and the C file: the extension is built at install time.
INSTALL_INPUTS := pyproject.toml setup.py src/workbench/streams/_speedups.c

$(VENV)/.installed-run: $(INSTALL_INPUTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(INSTALL_INPUTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) workbench-data workbench-demo .pytest_cache .ruff_cache
