# badbuzz: `make demo` runs the main job on embedded defaults, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The Sentiment140 files; override with a path of your own or set BADBUZZ_SENTIMENT140.
SENTIMENT140 ?= $(abspath ../shared/data/sentiment140)
export BADBUZZ_SENTIMENT140 ?= $(SENTIMENT140)
DEMO_HOME ?= .badbuzz-demo
DEMO_PORT ?= 8000

.PHONY: setup demo test bench lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[train,deep,transformer,api,dev]"
	touch $@

demo: setup
	BADBUZZ_HOME=$(DEMO_HOME) $(BIN)/badbuzz train baseline
	BADBUZZ_HOME=$(DEMO_HOME) $(BIN)/badbuzz promote --metric precision
	BADBUZZ_HOME=$(DEMO_HOME) $(BIN)/badbuzz evaluate
	@echo "Serving @champion on http://127.0.0.1:$(DEMO_PORT) (OpenAPI docs at /docs; Ctrl+C stops). Try:"
	@echo "  curl -s -X POST http://127.0.0.1:$(DEMO_PORT)/predict -H 'content-type: application/json' -d '{\"text\": \"@united lost my bag again, worst airline\"}'"
	BADBUZZ_HOME=$(DEMO_HOME) BADBUZZ_MODEL_ALIAS=champion $(BIN)/badbuzz serve --port $(DEMO_PORT)

test: setup
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/scale.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache
