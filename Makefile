# EdgeWatch: every target does its own set-up, so a fresh clone needs only `make demo`
# or `make test` (with ../shared beside the checkout, or EDGE_MODELS_DIR/EDGE_EVAL_DIR set).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export EDGE_MODELS_DIR ?= $(abspath ../shared/models)
export EDGE_EVAL_DIR ?= $(abspath ../shared/eval)

.PHONY: setup test lint typecheck unit demo proto proto-check bench clean

setup: $(VENV)/.installed

# insightface depends on opencv-python (the GUI build); gateways want the headless
# build. Two cv2 distributions in one env overwrite each other's files, so we remove
# the GUI wheel and reinstall headless: exactly one OpenCV, and `import cv2` checked.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip uninstall -y -q opencv-python opencv-contrib-python 2>/dev/null || true
	$(PY) -m pip install -q --force-reinstall --no-deps 'opencv-python-headless>=4.9,<5'
	$(PY) -c "import cv2, sys; print('cv2', cv2.__version__, file=sys.stderr)"
	touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check edge tests bench

typecheck: setup
	$(VENV)/bin/mypy edge

test: setup lint typecheck
	$(VENV)/bin/pytest -q -ra

unit: setup
	$(VENV)/bin/pytest -q tests/unit

demo: setup
	$(VENV)/bin/edgewatch demo

proto: setup
	$(PY) -m edge.wire.gen

proto-check: setup
	$(PY) -m edge.wire.gen --check

bench: setup
	$(PY) bench/vision.py --quick
	$(PY) bench/gateway.py --quick
	$(PY) bench/ingest.py --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache test-artifacts
