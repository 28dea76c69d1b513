# Quick start: `make demo` (the end-to-end flow) and `make test` (every test).
# Both set themselves up idempotently: .venv/ in the repo root, pinned packages.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

AP_TYPES := .cache/ap_types/ap_int.h

.PHONY: setup sim-tools test test-quick demo lint clean hls-headers

setup: $(STAMP) sim-tools

# Icarus Verilog for the RTL tests (Debian package; we run as root)
sim-tools:
	@command -v iverilog >/dev/null 2>&1 || apt-get install -y -q iverilog >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null && apt-get install -y -q iverilog >/dev/null)

# ap_int headers for the HLS C-simulation (Apache-2.0, from the hls4ml wheel; never committed)
hls-headers: $(AP_TYPES)

$(AP_TYPES): | $(STAMP)
	$(PY) -m pip download -q --no-deps hls4ml==1.3.0 -d .cache/wheels
	$(PY) -m ivit_hw.codegen.hls.extract_headers .cache/wheels/hls4ml-1.3.0-py3-none-any.whl .cache/ap_types

# the installed venv takes about 2.5 GB (triton 1.0, torch 0.7, the yowasp tools 0.25): say so before pip runs out of disk
VENV_MB := 2600
$(STAMP): pyproject.toml requirements.lock
	@free_mb=$$(df -Pm . | awk 'NR == 2 {print $$4}'); [ "$$free_mb" -ge $(VENV_MB) ] || \
		echo "make setup: .venv/ needs about $(VENV_MB) MB of disk, $$free_mb MB are free here" >&2
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-compile -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# Every core (TEST_JOBS=0: one process, no workers); whole test modules stay on one worker (--dist loadscope)
# so module fixtures build once; the longest modules (simulators, C-sim builds) are named first so
# they start early and the short ones fill in behind them (pytest collects a path once).
TEST_JOBS ?= auto
SLOW_FIRST := tests/codegen/test_hls_csim.py rtl_tests/test_units_cocotb.py rtl_tests/test_verilog_cli.py \
	rtl_tests/test_model_top.py tests/codegen/test_hls_swin.py tests/codegen/test_hls_stream.py
test: setup hls-headers
	CI=$${CI:-} $(PY) -m pytest -q --durations=15 -n $(TEST_JOBS) --dist loadscope $(SLOW_FIRST) rtl_tests tests

# The fast tiers for the edit-test loop: tests/ without the g++ C-simulation, the 2000-image eval,
# the README walkthrough and rtl_tests/ (cocotb, yosys). `make test` (what CI runs) stays the full suite.
QUICK_SKIP := tests/codegen/test_hls_csim.py tests/frontend/test_evaluate.py tests/test_walkthrough.py
test-quick: setup
	CI=$${CI:-} $(PY) -m pytest -q -n $(TEST_JOBS) --dist loadscope tests $(addprefix --ignore=,$(QUICK_SKIP))

demo: setup hls-headers
	$(VENV)/bin/ivit-hw demo --out out/demo

lint: setup
	$(VENV)/bin/ruff check ivit_hw tests examples gpu_validate rtl_tests

clean:
	rm -rf $(VENV) out build *.egg-info
