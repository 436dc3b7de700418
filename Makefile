# Strata: `make run` serves the demo, `make test` runs every check. Needs only Python 3.11+.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install lint typecheck imports pytest translations clean

$(STAMP): setup.cfg pyproject.toml
	@test -n "$(PYTHON)" || { echo "Strata needs Python 3.11 or newer on PATH (python3.11, python3.12, ...)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test,dev]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/strata db upgrade
	$(BIN)/strata demo load
	@echo "Serving Strata on http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	$(BIN)/strata serve --bind $(HOST):$(PORT) --workers 1 --access-log

test: lint typecheck imports pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy sampling weighting

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# Re-extract messages after changing user-visible strings, translate the new entries in
# survey_app/translations/*/LC_MESSAGES/messages.po, then compile.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --omit-header --no-location --sort-output --width 100 -o survey_app/translations/messages.pot survey_app
	$(BIN)/pybabel update -N --width 100 -i survey_app/translations/messages.pot -d survey_app/translations
	$(BIN)/pybabel compile -d survey_app/translations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
