# Entry points: make setup | test | lint | demo | site | bench
# `make test` and `make demo` set up the environment on their own when needed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch (a local file on the project's machines). GPU users install the
# package with plain pip instead: `pip install -e '.[vllm]'`.
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: setup test lint format demo site bench clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints-cpu.txt "$(TORCH)"
	$(BIN)/python -m pip install -q -c constraints-cpu.txt -e '.[dev]'
	touch $@

# The browser tests need Debian's chromium; CI machines start without it.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python -m pytest tests/perf -q -s -p no:cacheprovider

demo: setup
	$(BIN)/mllmcl-bench demo

site: setup
	$(BIN)/mllmcl-bench site --submissions submissions --out leaderboard/_site

clean:
	rm -rf leaderboard/_site .pytest_cache .ruff_cache
