# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: demo test lint unit browser-deps bench clean run

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	@# numba compiles the staffing kernel once per machine (about 4 s): now, not in a planner's first run
	$(PY) -c 'from forecasting.erlang import warm_kernel; print(f"staffing kernel compiled and cached in {warm_kernel():.1f} s")'
	touch $(STAMP)

# Debian's chromium for the wallboard browser test (never a browser download).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "chromium missing: run 'sudo apt-get install chromium' for the browser test"; \
	  fi; \
	fi

demo: $(STAMP)
	$(VENV)/bin/acd demo --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check acd telephony wallboard forecasting callcenter tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --explicit-package-bases bench

unit: $(STAMP)
	$(PY) -m pytest -q

test: $(STAMP) browser-deps lint unit

bench: $(STAMP)
	$(PY) bench/telephony.py
	$(PY) bench/acd.py
	$(PY) bench/wallboard.py
	$(PY) bench/desk.py
	$(PY) bench/forecast.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
