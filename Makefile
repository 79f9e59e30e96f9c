# The two commands of the README: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fmt bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0  # the CPU build (for invisible-watermark's import)
	$(BIN)/pip install -q -e '.[dev,peers,audit]'
	# the SD watermark reference, used by tests to embed marks; --no-deps: it would pull
	# opencv-python over opencv-python-headless
	$(BIN)/pip install -q --no-deps invisible-watermark==0.2.0
	scripts/install-vpdq.sh $(BIN)/pip  # Meta's vpdq, built from source; best effort
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	scripts/setup-debian.sh
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.hashing
	$(BIN)/python -m bench.index

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests bench examples
	$(BIN)/ruff format src tests bench examples
