# parsweep: `make run` and `make test` work from a clean clone; each creates .venv itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STORE ?= $(if $(MLFLOW_TRACKING_URI),$(MLFLOW_TRACKING_URI),sqlite:///$(CURDIR)/mlflow.db)
UI_PORT ?= 5000

.PHONY: run test ui clean upload-journal interpreters

# Reinstall only when the project's metadata changes (an editable install sees code edits).
# `make run` needs only parsweep itself; `make test` adds the test and cluster extras, and
# Hydra's Ray launcher without its dependency pins (it pins cloudpickle<3, which current dask
# refuses; it works with cloudpickle 3).
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(BIN)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps 'hydra-ray-launcher==1.2.2'
	touch $@ $(BIN)/.installed

run: $(BIN)/.installed
	$(BIN)/parsweep -m

test: $(BIN)/.installed-test
	$(BIN)/python -m pytest

# The other CPythons the tests and benchmarks run trials under (python=...): a GIL 3.14 in
# /opt/python3.14 (the interpreters backend) and a free-threaded 3.13 in /opt/python3.13t.
# Needs root (apt-get, /opt); reuses working builds, so a second run takes a second.
interpreters:
	.ci/build-python 3.14
	.ci/build-python 3.13 --free-threaded

ui: $(BIN)/.installed
	$(BIN)/mlflow ui --backend-store-uri '$(STORE)' --host 127.0.0.1 --port $(UI_PORT)

# After the tracking server was unreachable mid-sweep: make upload-journal DIR=multirun/DATE/TIME
# (URI=... sends it to another store). Only what the store missed is uploaded.
upload-journal: $(BIN)/.installed
	@test -n "$(DIR)" || { echo "usage: make upload-journal DIR=multirun/DATE/TIME [URI=http://127.0.0.1:5000]" >&2; exit 2; }
	$(BIN)/python -m runner.tracking.journal upload '$(DIR)' $(if $(URI),--tracking-uri '$(URI)')

clean:
	rm -rf $(VENV) build dist *.egg-info outputs multirun
