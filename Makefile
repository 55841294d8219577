# vivid: `make demo` and `make test` are all a fresh machine needs (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup system-deps labelstudio-env demo test bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

system-deps:
	bash scripts/system_deps.sh

labelstudio-env:
	bash scripts/labelstudio_env.sh

demo: setup labelstudio-env
	$(BIN)/vivid demo

test: setup system-deps labelstudio-env
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf data out .pytest_cache
