# Targets for MangaAssist. Others append more (test, build, local, ...).
VENV ?= .venv
BIN := $(VENV)/bin/
REGION ?= ap-northeast-1

# Template linting is offline: no AWS account needed. Dummy credentials and
# an unset profile stop the SAM CLI from looking for (or prompting for) real ones.
OFFLINE_AWS := env -u AWS_PROFILE -u AWS_SESSION_TOKEN \
	AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline \
	AWS_DEFAULT_REGION=$(REGION) AWS_REGION=$(REGION) SAM_CLI_TELEMETRY=0

.PHONY: lint lint-template

# `lint` aggregates linters; add prerequisites (e.g. `lint: lint-python`).
lint: lint-template

lint-template:
	$(OFFLINE_AWS) $(BIN)sam validate --lint --template template.yaml --region $(REGION)
	$(OFFLINE_AWS) $(BIN)cfn-lint template.yaml
