# The README's two commands are `make demo` and `make test`; each sets itself up on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench docs clean

$(STAMP): pyproject.toml tests/oidc/package-lock.json
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is needed" if sys.version_info < (3, 11) else 0)'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# The dbt manifest the code location loads (so loading Dagster's definitions never runs `dbt parse`).
	$(PY) -c 'from orchestration.defs.dbt.assets import dbt_project, ensure_manifest; ensure_manifest(dbt_project())'
	# The OpenID provider the sign-in tests start (npm's oidc-provider); without Node.js those tests skip, saying why.
	if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error; \
	else echo "setup: npm not found: the sign-in tests will be skipped (apt-get install nodejs npm)"; fi
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/emd demo

# Two workers (pytest-xdist), a test file per worker at a time: every test keeps its own files, ports,
# Postgres schema and dbt target folder, so they run side by side. PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider --durations=15 -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check emd orchestration mock_apis app api tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

docs: $(STAMP)
	$(VENV)/bin/emd docs

clean:
	rm -rf $(VENV) data .emd dbt_project/target dbt_project/logs
