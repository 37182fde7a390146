# geo-antt: the two commands of README.md are `make run` and `make test`.
# Everything is installed into ./.venv (Python) and web/static/vendor (JS/CSS from npm).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000
# pytest-xdist worker processes (the CI machine has 2 cores); test modules stay whole on one
# worker (--dist loadfile), so a module's fixtures are built once
PYTEST_WORKERS ?= 2

.PHONY: setup test-deps run test bench clean lock

# Installs are pinned: constraints.txt holds the exact versions CI tested (every dependency,
# direct or not). `make lock` refreshes it after a change of pyproject.toml's dependencies.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q 'pip==26.3'
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

setup: $(VENV)/.installed
	bash scripts/vendor.sh

test-deps: setup
	bash scripts/system-deps.sh

run: setup
	$(VENV)/bin/geo-antt serve --host $(HOST) --port $(PORT)

# a random hash seed per run, printed, so that an order-dependent result cannot hide; rerun a
# failure with `make test PYTHONHASHSEED=N`
test: test-deps
	@seed=$${PYTHONHASHSEED:-$$(shuf -i 0-4294967295 -n 1)}; echo "make test: PYTHONHASHSEED=$$seed"; \
	PYTHONHASHSEED=$$seed $(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

bench: setup
	$(PY) bench/coverage_bench.py
	$(PY) bench/api_bench.py

lock: $(VENV)/.installed
	$(PY) -m pip install -q 'uv==0.13.9'
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --python-version 3.11 --upgrade --no-header -o constraints.txt

clean:
	rm -rf $(VENV) web/static/vendor
