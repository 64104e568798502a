# 连心 Lianxin — the two set-up commands are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

.PHONY: run test bench setup init clean lint

$(STAMP): pyproject.toml $(wildcard package-lock.json)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; fi
	touch $(STAMP)

ASSETS := web/static/dist/.built

# Page bundles (bpmn-js viewer and modeler, dmn-js, charts) from node_modules, rebuilt when a page script changes.
$(ASSETS): $(STAMP) $(wildcard web/frontend/*.mjs web/frontend/entries/*.js web/frontend/lib/*.js web/frontend/lib/*.jsx web/frontend/lib/*.json)
	npm run --silent build
	touch $(ASSETS)

setup: $(STAMP) $(ASSETS)

init: setup
	LIANXIN_DEMO=1 $(BIN)/lianxin init --demo

run: init
	LIANXIN_DEMO=1 $(BIN)/lianxin serve --host $(HOST) --port $(PORT)

# The rules that are checked: ruff (rule set in pyproject.toml) and the import contracts of import-linter.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: setup
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf var/ .pytest_cache
