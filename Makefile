# MangaAssist. `make local` runs it on this machine; `make test` runs every check.
VENV ?= .venv
BIN := $(VENV)/bin/
REGION ?= ap-northeast-1
PORT ?= 8080
AWS_PORT ?= 4566

# Template linting is offline: no AWS account needed. Dummy credentials and
# an unset profile stop the SAM CLI from looking for (or prompting for) real ones.
OFFLINE_AWS := env -u AWS_PROFILE -u AWS_SESSION_TOKEN \
	AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline \
	AWS_DEFAULT_REGION=$(REGION) AWS_REGION=$(REGION) SAM_CLI_TELEMETRY=0

.PHONY: setup prepare local test lint lint-template lint-python unit integration build

setup:
	./scripts/setup.sh

# The task classifier and the catalog's vector index, built from the repo (cached; ~1-2 min the first time).
prepare: setup
	$(BIN)mangaassist prepare

# Sets everything up, then runs the whole stack locally (no AWS account, no Docker).
local: setup prepare
	$(BIN)mangaassist serve --port $(PORT) --aws-port $(AWS_PORT)

# Sets everything up, then lints and runs the tests: what CI runs.
test: setup lint prepare
	$(BIN)pytest -q

unit: setup
	$(BIN)pytest -q tests/unit

integration: setup prepare
	$(BIN)pytest -q tests/integration

lint: lint-python lint-template

lint-python:
	$(BIN)ruff check .

lint-template:
	$(OFFLINE_AWS) $(BIN)sam validate --lint --template template.yaml --region $(REGION)
	$(OFFLINE_AWS) $(BIN)cfn-lint template.yaml

# Needs no Docker: the functions are pure Python.
build: setup
	$(OFFLINE_AWS) $(BIN)sam build
