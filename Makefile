# Two entry points for a fresh clone: `make quickstart` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup quickstart serve test bench clean

setup: $(STAMP)

# Idempotent: re-runs the install only when pyproject.toml changes.
# torch==2.13.0 first, so the `torch` extra resolves to the local CPU build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[torch,test]"
	touch $(STAMP)

quickstart: setup
	$(BIN)/request-dse tune studies/quickstart.yaml

# The example tournament on http://127.0.0.1:8470/ (docs/service.md); Ctrl-C stops it.
serve: setup
	$(BIN)/request-dse serve tournaments/example.yaml

test: setup
	tests/setup-system.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info studies/.request-dse tournaments/.request-dse
