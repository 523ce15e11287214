# parsweep: `make run` and `make test` work from a clean clone; each creates .venv itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STORE ?= $(if $(MLFLOW_TRACKING_URI),$(MLFLOW_TRACKING_URI),sqlite:///$(CURDIR)/mlflow.db)
UI_PORT ?= 5000

.PHONY: run test ui clean

# Reinstall only when the project's metadata changes (an editable install sees code edits).
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/parsweep -m

test: $(BIN)/.installed
	$(BIN)/python -m pytest

ui: $(BIN)/.installed
	$(BIN)/mlflow ui --backend-store-uri '$(STORE)' --host 127.0.0.1 --port $(UI_PORT)

clean:
	rm -rf $(VENV) build dist *.egg-info outputs multirun
