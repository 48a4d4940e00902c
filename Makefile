# agentgw — the two commands a new user needs: `make run` and `make test`.
# Both create the virtual environment and install the pinned dependencies themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint provision clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[local,dev]"
	touch $(STAMP)

install: $(STAMP)

## make run: bring the whole system up on loopback (no AWS account, no Docker, no network).
run: $(STAMP)
	$(BIN)/agentgw local up

## make test: lint, then the whole test suite, offline.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

provision: $(STAMP)
	$(BIN)/agentgw local provision

clean:
	rm -rf $(VENV) .aws-sam .agentgw .pytest_cache .ruff_cache
