# parsweep: `make run` and `make test` work from a clean clone; each creates .venv itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STORE ?= $(if $(MLFLOW_TRACKING_URI),$(MLFLOW_TRACKING_URI),sqlite:///$(CURDIR)/mlflow.db)
UI_PORT ?= 5000
UI_WORKERS ?= 1

.PHONY: run test test-fast test-setup lint ui clean upload-journal interpreters

# Reinstall only when the project's metadata changes (an editable install sees code edits).
# `make run` needs only parsweep itself; `make test` adds the test and cluster extras, and
# Hydra's Ray launcher without its dependency pins (it pins cloudpickle<3, which current dask
# refuses; it works with cloudpickle 3). editable_mode=compat puts the checkout on sys.path, so
# Hydra's plugin scan finds hydra_plugins/parsweep_sweeper as it does in a regular install.
# pip shows its progress: a first install takes a minute or two.
PIP := $(BIN)/python -m pip install --disable-pip-version-check
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "make: installing parsweep and what it needs into $(VENV) (a minute or two the first time)"
	$(PIP) -e . --config-settings editable_mode=compat
	touch $@

$(BIN)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "make: installing parsweep with its test and cluster extras into $(VENV) (a few minutes the first time)"
	$(PIP) -e '.[test]' --config-settings editable_mode=compat
	$(PIP) --no-deps 'hydra-ray-launcher==1.2.2'
	touch $@ $(BIN)/.installed

# ARGS: more overrides for the quick sweep (make run ARGS="n=1e5 repeats=3"); they win over the preset's.
run: $(BIN)/.installed
	$(BIN)/parsweep -m sweep=quick $(ARGS)

# What the tests drive for real, set up when missing: Debian's chromium and postgresql, and the
# CPythons trials run under (make interpreters). Each says the one command to run when this user
# cannot install it.
test-setup:
	@.ci/system-packages
	@$(MAKE) --no-print-directory interpreters

# Lint and types first (seconds), then the suite on one pytest-xdist worker per CPU; tests that
# share a module's sweep stay on one worker, tests marked `alone` run with nothing beside them
# (tests/conftest.py); pytest ends with its ten slowest tests.
test: $(BIN)/.installed-test test-setup lint
	$(BIN)/python -m pytest -n logical --dist loadgroup --durations=10

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

# The suite without the slow, cluster, browser and PostgreSQL tests: under two minutes on 2 cores.
test-fast: $(BIN)/.installed-test
	$(BIN)/python -m pytest -n logical --dist loadgroup -m "not slow and not cluster and not browser and not postgres"

# The other CPythons the tests and benchmarks run trials under (python=...): a GIL 3.14 in
# /opt/python3.14 (the interpreters backend), a free-threaded 3.13 in /opt/python3.13t, and its
# GIL twin in /opt/python3.13 (same version, same source, same configure flags but --disable-gil:
# what sweep=gil measures the free-threaded build against).
# Needs root (apt-get, /opt); reuses working builds, so a second run takes a second.
interpreters:
	.ci/build-python 3.14
	.ci/build-python 3.13 --free-threaded
	.ci/build-python 3.13 --twin-of /opt/python3.13t/bin/python3.13t

# One browser, one user: one uvicorn worker (MLflow's default is 4) and none of MLflow's GenAI job
# runners (a huey consumer per job kind, each importing MLflow): parsweep's runs use neither, and on
# two cores they made the UI answer after 20-35 s instead of about 10.
ui: $(BIN)/.installed
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --backend-store-uri '$(STORE)' --host 127.0.0.1 --port $(UI_PORT) --workers $(UI_WORKERS)

# After the tracking server was unreachable mid-sweep: make upload-journal DIR=multirun/DATE/TIME
# (URI=... sends it to another store). Only what the store missed is uploaded.
upload-journal: $(BIN)/.installed
	@test -n "$(DIR)" || { echo "usage: make upload-journal DIR=multirun/DATE/TIME [URI=http://127.0.0.1:5000]" >&2; exit 2; }
	$(BIN)/parsweep-journal upload '$(DIR)' $(if $(URI),--tracking-uri '$(URI)')

# What `make run` and the README's commands made here: the environment, the default store
# (mlflow.db) with its artifacts (mlruns/), Hydra's folders and the README's `--out report/`.
# A store elsewhere (MLFLOW_TRACKING_URI, tracking.uri) is never touched. $(VENV) has no trailing
# slash: when it is a symlink, the link goes, not what it points to.
clean:
	rm -rf $(VENV) build dist *.egg-info outputs multirun mlflow.db mlruns mlartifacts report
