# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MLFLOW_VENV := .venv-mlflow
MLFLOW_VERSION := 3.17.2
PYTEST_ARGS ?=

.PHONY: demo test stress bench install mlflow-venv browser-deps lint clean team-test

# The lab extension is built by the install (pyproject.toml's build hook): reinstall when its sources change.
$(VENV)/.installed: pyproject.toml labextension/package.json labextension/yarn.lock labextension/tsconfig.json \
		$(wildcard labextension/src/*.ts labextension/style/*)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# MLflow lives in its own venv: the compatibility tests and the benchmarks
# compare against it, and it is never a dependency of the package.
$(MLFLOW_VENV)/.installed: pyproject.toml
	test -x $(MLFLOW_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install -q -U pip
	$(MLFLOW_VENV)/bin/python -m pip install -q "mlflow==$(MLFLOW_VERSION)" scikit-learn xgboost-cpu lightgbm -e .
	touch $@

mlflow-venv: $(MLFLOW_VENV)/.installed

# Debian's Chromium for the browser tests (Playwright cannot download one here).
browser-deps:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(VENV)/bin/jupyter execute example_notebooks/quickstart.ipynb --output=quickstart.out.ipynb
	JUPYTER_LIFECYCLE_NOTEBOOK=$(CURDIR)/example_notebooks/capture.ipynb \
		$(VENV)/bin/jupyter execute example_notebooks/capture.ipynb --output=capture.out.ipynb
	@echo
	@echo "== What the quickstart and capture notebooks recorded (cells: executed cells; revisions: notebook revisions) =="
	$(VENV)/bin/jupyter-lifecycle info
	@echo
	$(VENV)/bin/jupyter-lifecycle experiments
	@echo
	@echo "== Best runs by cross-validated accuracy =="
	$(VENV)/bin/jupyter-lifecycle runs -e quickstart-iris -o "metrics.cv_accuracy DESC" -n 3 \
		--columns run_id,tags.mlflow.runName,params.model,metrics.cv_accuracy
	@echo
	@echo "== Registered models (the quickstart made the best one the champion) =="
	$(VENV)/bin/jupyter-lifecycle models

test: install mlflow-venv browser-deps
	$(PY) -m pytest $(PYTEST_ARGS)

# tests/stress/ at full scale (`make test` runs it at a CI scale, in well under a minute):
# 8 writer processes x 1,000,000 points with 2 readers and a registering process, then
# 40 SIGKILLs of writers at random moments. Prints its figures; takes several minutes.
stress: install
	LIFECYCLE_STRESS_SCALE=full $(PY) -m pytest tests/stress tests/test_properties.py tests/test_server_api_fuzz.py \
		-v -s --timeout=3600 $(PYTEST_ARGS)

# The sync tests (tests/test_sync.py) against an MLflow server on PostgreSQL, as teams deploy it:
# Debian's postgresql (installed if missing), a throwaway cluster on PG_PORT in .team-test-pg/
# (run as user postgres when make runs as root), psycopg2-binary in the MLflow venv.
PG_PORT ?= 55432
PG_DIR := $(CURDIR)/.team-test-pg
AS_PG := $(if $(filter 0,$(shell id -u)),runuser -u postgres --,)
team-test: install mlflow-venv
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
	$(MLFLOW_VENV)/bin/python -m pip install -q psycopg2-binary
	rm -rf $(PG_DIR) && mkdir -p $(PG_DIR) && $(if $(AS_PG),chown postgres $(PG_DIR),true)
	PGBIN=$$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); \
	$(AS_PG) $$PGBIN/initdb -D $(PG_DIR)/data -A trust -U postgres >/dev/null && \
	$(AS_PG) $$PGBIN/pg_ctl -D $(PG_DIR)/data -l $(PG_DIR)/log -w \
		-o "-p $(PG_PORT) -k $(PG_DIR) -c listen_addresses=127.0.0.1" start && \
	$(AS_PG) $$PGBIN/createdb -h 127.0.0.1 -p $(PG_PORT) -U postgres mlflow && \
	{ LIFECYCLE_SYNC_BACKEND=postgresql+psycopg2://postgres@127.0.0.1:$(PG_PORT)/mlflow \
		$(PY) -m pytest tests/test_sync.py -v $(PYTEST_ARGS); status=$$?; \
	  $(AS_PG) $$PGBIN/pg_ctl -D $(PG_DIR)/data -m fast stop; rm -rf $(PG_DIR); exit $$status; }

bench: install mlflow-venv
	$(PY) benchmarks/bench_tracking.py
	$(PY) benchmarks/bench_models.py
	$(PY) benchmarks/bench_serving.py
	$(PY) benchmarks/bench_registry.py
	$(PY) benchmarks/bench_cells.py
	$(PY) benchmarks/bench_charts.py
	$(PY) benchmarks/bench_datasets.py
	$(PY) benchmarks/bench_tracing.py
	$(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_runs_page.py
	$(PY) benchmarks/bench_sync.py

lint: install
	$(VENV)/bin/ruff check jupyter_lifecycle tests benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(MLFLOW_VENV) .pytest_cache
