# Entry points: make setup | test | lint | demo | site | rescore | bench | lock | drift | test-vllm
# `make test` and `make demo` set up the environment on their own when needed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The whole tested environment at exact versions with hashes, the CPU torch build included.
# Refresh it with `make lock` and review the diff like code (see README, "Development").
LOCK   := requirements/dev-cpu.lock.txt
# Extra pip options, e.g. PIP_ARGS='--find-links DIR' where the CPU torch wheel is not on
# pip's default search path (on the project's machines pip's config already points at it).
PIP_ARGS ?=
# Where `make lock` finds the CPU torch wheel (constraints-cpu.txt names its version).
TORCH_WHEELS ?= /opt/wheels
STAMP  := $(VENV)/.installed

.PHONY: setup test lint format demo site rescore bench clean browser java lock drift test-vllm lock-vllm

setup: $(STAMP)

# Locked: every package from the lock, hash-checked; then the project itself without deps
# (built with the locked setuptools, not whatever the index serves that day).
# The torchvision shim goes in first: PyPI's (CUDA-built) torchvision cannot be imported next
# to the CPU torch without it (tools/torchvision_cpu/mllmcl_torchvision_cpu.py says why).
$(STAMP): pyproject.toml $(LOCK) tools/torchvision_cpu/mllmcl_torchvision_cpu.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python tools/torchvision_cpu/install.py
	$(BIN)/python -m pip install -q $(PIP_ARGS) --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $@

# Re-resolve the lock from pyproject.toml (dev extra) to the newest allowed versions.
# A reviewed change: commit the new lock with the test run that proves it.
lock: setup
	$(BIN)/uv pip compile pyproject.toml --extra dev --constraint constraints-cpu.txt \
	  --find-links $(TORCH_WHEELS) --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes --upgrade \
	  --custom-compile-command "make lock" --quiet -o $(LOCK)

# The newest versions pyproject.toml allows, without the lock, in a throwaway venv: what a
# plain `pip install -e .` gets today. The scheduled workflow runs this to see drift early.
DRIFT := .venv-drift
drift: browser java
	rm -rf $(DRIFT)
	$(PYTHON) -m venv $(DRIFT)
	$(DRIFT)/bin/python tools/torchvision_cpu/install.py
	$(DRIFT)/bin/python -m pip install -q $(PIP_ARGS) -c constraints-cpu.txt torch
	$(DRIFT)/bin/python -m pip install -q $(PIP_ARGS) -c constraints-cpu.txt -e '.[dev]'
	$(DRIFT)/bin/python -m pip list --format=freeze
	MLLMCL_BENCH_UNLOCKED=1 $(DRIFT)/bin/python -m pytest -q -p no:cacheprovider

# vLLM's own checks on CPU (engine arguments, prompt rendering, adapter validation) in a
# separate locked venv: vllm pins torch 2.14 (CUDA build), the main venv has 2.13+cpu.
VLLM_VENV := .venv-vllm
VLLM_LOCK := requirements/vllm-cpu.lock.txt
$(VLLM_VENV)/.installed: pyproject.toml $(VLLM_LOCK)
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	# --no-deps: the lock is the complete set (pip cannot match its pins to the extras some
	# NVIDIA packages request, e.g. nvidia-cutlass-dsl[cu13]); pip check proves it complete
	$(VLLM_VENV)/bin/python -m pip install -q --no-deps --require-hashes -r $(VLLM_LOCK)
	$(VLLM_VENV)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	$(VLLM_VENV)/bin/python -m pip check
	touch $@

test-vllm: $(VLLM_VENV)/.installed
	VLLM_TARGET_DEVICE=cpu MLLMCL_BENCH_REQUIRE_VLLM=1 $(VLLM_VENV)/bin/python -m pytest -q \
	  -p no:cacheprovider tests/test_vllm_checks.py

lock-vllm: setup
	$(BIN)/uv pip compile pyproject.toml requirements/vllm-test.in --extra vllm \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
	  --upgrade --custom-compile-command "make lock-vllm" --quiet -o $(VLLM_LOCK)

# The caption metrics (pycocoevalcap: PTB tokenizer, METEOR) run on Java; CI machines start
# without it.
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing Debian's headless Java runtime for the caption metrics"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; }

# The browser tests need Debian's chromium; CI machines start without it.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup browser java
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python -m pytest tests/perf -q -s -p no:cacheprovider

demo: setup
	$(BIN)/mllmcl-bench demo

site: setup
	$(BIN)/mllmcl-bench site --submissions submissions --out leaderboard/_site

# Every committed entry's results.json again from its saved predictions, after a change to
# scoring or to the metric definitions (the shapes suite is built offline).
rescore: setup
	$(BIN)/mllmcl-bench tasks prepare shapes
	$(BIN)/mllmcl-bench rescore

clean:
	rm -rf leaderboard/_site .pytest_cache .ruff_cache $(DRIFT) $(VLLM_VENV)
