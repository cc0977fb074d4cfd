# badbuzz: `make demo` runs the main job on embedded defaults, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The Sentiment140 files; override with a path of your own or set BADBUZZ_SENTIMENT140.
SENTIMENT140 ?= $(abspath ../shared/data/sentiment140)
export BADBUZZ_SENTIMENT140 ?= $(SENTIMENT140)
DEMO_HOME ?= .badbuzz-demo
DEMO_PORT ?= 8000
DEMO_CONSOLE_PORT ?= 8501
# Which baselines the demo trains, on how many tweets (empty: the whole file), and whether it
# trains the ensemble too (empty: not; on the whole file it wins on positive precision).
DEMO_MODELS ?= nb,logreg,svm,rf,lgbm,xgb,vader,textblob
DEMO_SAMPLE ?=
DEMO_ENSEMBLE ?= yes

.PHONY: setup browser demo test e2e bench lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[train,deep,transformer,api,ui,spark,dev]"
	touch $@

demo: export BADBUZZ_HOME = $(DEMO_HOME)
demo: setup
	$(BIN)/badbuzz train baseline --models $(DEMO_MODELS) $(if $(DEMO_SAMPLE),--sample $(DEMO_SAMPLE))
	$(if $(DEMO_ENSEMBLE),$(BIN)/badbuzz train ensemble $(if $(DEMO_SAMPLE),--sample $(DEMO_SAMPLE)))
	$(BIN)/badbuzz promote
	$(BIN)/badbuzz evaluate
	@echo "Serving @champion on http://127.0.0.1:$(DEMO_PORT) (OpenAPI docs at /docs) and the console"
	@echo "on http://127.0.0.1:$(DEMO_CONSOLE_PORT); one Ctrl+C stops both. Try:"
	@echo "  curl -s -X POST http://127.0.0.1:$(DEMO_PORT)/predict -H 'content-type: application/json' -d '{\"text\": \"@united lost my bag again, worst airline\"}'"
	BADBUZZ_MODEL_ALIAS=champion exec $(BIN)/badbuzz serve --port $(DEMO_PORT) \
		--console-port $(DEMO_CONSOLE_PORT)

# The real browser of the console's browser test: Debian's chromium, which Playwright drives
# (no browser download). Installed with apt when missing (as root, or through sudo).
APT_GET := $(if $(filter 0,$(shell id -u)),apt-get,sudo apt-get)
browser:
	@command -v chromium >/dev/null || { $(APT_GET) update -q && $(APT_GET) install -y -q chromium; }

test: setup browser
	$(BIN)/pytest

# The compose stack's twin as local processes (PostgreSQL, S3, MLflow with basic auth, the
# API, the console, SMTP) and the users' journey through it; `make test` runs it too.
e2e: setup browser
	$(BIN)/pytest tests/integration/test_stack.py

bench: setup
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.scale

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache
