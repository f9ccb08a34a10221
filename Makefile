# carebot: `make run` starts the whole service, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
CAREBOT := $(VENV)/bin/carebot
WEBCHAT := bot/portal/node_modules/botframework-webchat/dist/webchat.js
MEDPLUM := tests/fhir/medplum/node_modules/@medplum/fhir-router/package.json
AXE := tests/a11y/node_modules/axe-core/axe.min.js

.PHONY: run test lint typecheck pytest bench clean system-deps

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[dev]' 2>&1 | grep -v 'is ignored' || true
	$(PY) -c 'import bot, botbuilder.core, fhir.resources'
	touch $@

$(WEBCHAT): bot/portal/package.json bot/portal/package-lock.json
	cd bot/portal && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(AXE): tests/a11y/package.json tests/a11y/package-lock.json
	cd tests/a11y && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(MEDPLUM): tests/fhir/medplum/package.json tests/fhir/medplum/package-lock.json
	cd tests/fhir/medplum && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# `make run` leaves /api/messages closed (no app id): the portal's Web Chat uses the local
# Direct Line. For the Bot Framework Emulator: CAREBOT_EMULATOR_MODE=1 make run (loopback only).
run: $(VENV)/.installed $(WEBCHAT)
	$(CAREBOT) migrate
	$(CAREBOT) demo
	# The scoring worker follows the store beside the service, so simulated deteriorations raise Flags;
	# the service itself detects alerts on the change feed and delivers them (inbox, mail, Teams).
	$(CAREBOT) score run & trap 'kill $$!' EXIT; $(CAREBOT) serve --simulate-gateway

system-deps:
	bash .ci/system-deps

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy bot dialogs integrations gateway scoring

pytest: $(VENV)/.installed $(WEBCHAT) $(MEDPLUM) $(AXE)
	bash .ci/with-postgres bash .ci/with-mosquitto $(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test: system-deps $(VENV)/.installed $(WEBCHAT) $(AXE) lint typecheck pytest

bench: $(VENV)/.installed $(WEBCHAT) $(MEDPLUM)
	for script in bench/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var bot/portal/node_modules tests/fhir/medplum/node_modules tests/a11y/node_modules .mypy_cache .ruff_cache .import_linter_cache
