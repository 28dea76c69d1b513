# Quick start: `make demo` (the end-to-end flow) and `make test` (every test).
# Both set themselves up idempotently: .venv/ in the repo root, pinned packages.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup sim-tools test demo lint clean

setup: $(STAMP) sim-tools

# Icarus Verilog for the RTL tests (Debian package; we run as root)
sim-tools:
	@command -v iverilog >/dev/null 2>&1 || apt-get install -y -q iverilog >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null && apt-get install -y -q iverilog >/dev/null)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

test: setup
	CI=$${CI:-} $(PY) -m pytest -q tests rtl_tests

demo: setup
	$(VENV)/bin/ivit-hw demo --out out/demo

lint: setup
	$(VENV)/bin/ruff check ivit_hw tests examples rtl_tests

clean:
	rm -rf $(VENV) out build *.egg-info
