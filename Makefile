# Crossdesk: `make run` and `make test` are all you need (see README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 3
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
# The server reads CROSSDESK_VAR_DIR itself (handoff/settings.py); the bot's commands take the folder.
MODELS_DIR := $(or $(CROSSDESK_VAR_DIR),var)/models

.PHONY: setup run test bench eval train check clean

setup: $(STAMP)

# The venv is rebuilt when the pinned requirements change.
$(STAMP): requirements.txt scripts/find-python310
	@py=$$(scripts/find-python310) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
		echo "creating $(VENV) with $$py"; rm -rf $(VENV); $$py -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==24.0
	@echo "installing pinned dependencies (first time: ~3 minutes)..."
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

train: setup
	$(PY) -m bot train --models-dir "$(MODELS_DIR)"

run: setup
	$(PY) -m handoff serve

test: setup
	@scripts/ensure-chromium
	@scripts/ensure-npm-packages
	@scripts/ensure-services
	$(PY) -m bot train --models-dir "$(MODELS_DIR)"
	$(PY) -m pytest

bench: setup
	$(PY) -m bench

eval: setup
	$(PY) -m bot eval --models-dir "$(MODELS_DIR)"

check: setup
	$(PY) -m bot check

clean:
	rm -rf var reports test-artifacts .pytest_cache
