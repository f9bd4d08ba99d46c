# MangaAssist. `make local` runs it on this machine; `make test` runs every check.
VENV ?= .venv
BIN := $(VENV)/bin/
SAM := .venv-sam/bin/sam
REGION ?= ap-northeast-1
PORT ?= 8080
AWS_PORT ?= 4566

# Template linting is offline: no AWS account needed. Dummy credentials and
# an unset profile stop the SAM CLI from looking for (or prompting for) real ones.
OFFLINE_AWS := env -u AWS_PROFILE -u AWS_SESSION_TOKEN \
	AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline \
	AWS_DEFAULT_REGION=$(REGION) AWS_REGION=$(REGION) SAM_CLI_TELEMETRY=0

.PHONY: setup prepare local test lint lint-template lint-python lint-types unit integration build lock smoke-build

setup:
	./scripts/setup.sh

# The task classifier and the catalog's vector index, built from the repo (cached; ~1-2 min the first time).
prepare: setup
	$(BIN)mangaassist prepare

# Sets everything up, then runs the whole stack locally (no AWS account, no Docker).
local: setup prepare
	$(BIN)mangaassist serve --port $(PORT) --aws-port $(AWS_PORT)

# Sets everything up, then lints, builds (sam build + the host layer) and runs every test, the end-to-end
# ones against the build, then the post-deploy smoke test against `serve --from-build`, then the prompt
# regression gate (the golden set vs the committed baseline; fails on a critical regression): what CI runs.
test: setup lint build prepare
	$(BIN)pytest -q
	./scripts/smoke_build.sh
	./scripts/regress_build.sh

unit: setup
	$(BIN)pytest -q tests/unit

integration: setup prepare
	$(BIN)pytest -q tests/integration

lint: lint-python lint-types lint-template

lint-python:
	$(BIN)ruff check .

lint-types:
	$(BIN)mypy

lint-template:
	$(OFFLINE_AWS) $(SAM) validate --lint --template template.yaml --region $(REGION)
	$(OFFLINE_AWS) $(BIN)cfn-lint template.yaml

# Needs no Docker: the functions are pure Python; the layer's binary wheels are fetched for arm64. SAM needs a
# python3.12 on PATH (the venv's). Then the layer is built again for this machine, so that
# `mangaassist serve --from-build` runs what `sam deploy` ships.
build: setup
	$(OFFLINE_AWS) PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM) build
	$(BIN)mangaassist build-host

# The post-deploy smoke test against the local stack running the build.
smoke-build: build prepare
	./scripts/smoke_build.sh

# Re-lock after editing shared/requirements.in, requirements/*.in or pyproject.toml's extras (uv, hashes).
lock: setup
	$(BIN)uv pip compile requirements/lambda-runtime.in --generate-hashes --universal --python-version 3.12 -q -o requirements/lambda-runtime.txt
	$(BIN)uv pip compile shared/requirements.in -c requirements/lambda-runtime.txt --generate-hashes --universal --python-version 3.12 -q -o shared/requirements.txt
	$(BIN)uv pip compile pyproject.toml --extra dev -c shared/requirements.txt -c requirements/lambda-runtime.txt --generate-hashes --universal --python-version 3.12 -q -o requirements/dev.txt
	$(BIN)uv pip compile requirements/sam.in --generate-hashes --universal --python-version 3.12 -q -o requirements/sam.txt
