PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The editable install is strict (a link tree under build/), so it is redone
# whenever the set of package files changes.
FILESET := $(shell find optsched solvers gnn api datasets -type f -not -path '*/__pycache__/*' 2>/dev/null | sort | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(FILESET)
LINKTREE = $(firstword $(wildcard build/__editable__.optsched-*))

.PHONY: install serve test test-all explore check lint typecheck bench clean protos

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "python3.11 not found; set PY=..." >&2; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=strict
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/optsched serve

test: $(STAMP)
	$(BIN)/pytest

test-all: $(STAMP)
	$(BIN)/pytest -m ''

# Property tests with fresh random examples (the default run is derandomized).
explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/pytest -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	cd $(LINKTREE) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p optsched

check: lint typecheck test

# Regenerate api/v1/*_pb2*.py[i] after editing a .proto (-P: the repository
# root must not shadow the installed packages).
protos: $(STAMP)
	$(BIN)/python -P -m optsched.api.codegen

bench: $(STAMP)
	$(BIN)/optsched bench all

clean:
	rm -rf $(VENV) build *.egg-info reports
