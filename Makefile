# Two commands: `make demo` runs the main job (see README); `make test` creates
# .venv if missing, installs the pinned dependencies (Python, npm, and Debian's
# Chromium for the browser tests) and runs the whole test suite: Python (pytest),
# then the mobile web app (npm test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CUDA machine: make test TF_REQUIREMENT='tensorflow[and-cuda]==2.21.0'
TF_REQUIREMENT ?= tensorflow-cpu==2.21.0
STAMP := $(VENV)/.installed-$(shell echo '$(TF_REQUIREMENT)' | cksum | cut -d' ' -f1)
PYTEST_ARGS ?= -n 2  # two workers: the CI machine has 2 cores
WEB := mobile/web
FACE_MODELS := face_models
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

EMOJI_FONT ?= /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

.PHONY: setup setup-web face-models chromium emoji-font test test-python test-web demo clean

setup: $(STAMP) face-models emoji-font

# The colour emoji the "emoji" occluders draw (Noto Color Emoji, SIL OFL 1.1), from Debian.
emoji-font:
	@test -f $(EMOJI_FONT) || { command -v apt-get >/dev/null && \
	  { $(SUDO) apt-get install -y --no-install-recommends fonts-noto-color-emoji || \
	    { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends fonts-noto-color-emoji; }; }; } || \
	  { echo "error: the emoji occluders need Debian's fonts-noto-color-emoji (or C2FDAN_EMOJI_FONT=/path/to/NotoColorEmoji.ttf)"; exit 1; }

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	grep -v '^tensorflow-cpu==' requirements.txt > $(VENV)/requirements.resolved.txt
	echo '$(TF_REQUIREMENT)' >> $(VENV)/requirements.resolved.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements.resolved.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

# The pretrained face-api.js nets (MIT) from the npm registry, pinned by package-lock.json;
# c2fdan_tf.models.face_api reads their weights from there (no download at run time).
face-models: $(FACE_MODELS)/node_modules/.installed

$(FACE_MODELS)/node_modules/.installed: $(FACE_MODELS)/package.json $(FACE_MODELS)/package-lock.json
	cd $(FACE_MODELS) && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

setup-web: $(WEB)/node_modules/.installed

$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $@

chromium:
	@test -x $(CHROMIUM) || { command -v apt-get >/dev/null && \
	  { $(SUDO) apt-get install -y --no-install-recommends chromium || \
	    { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }; }; } || \
	  { echo "error: the web tests need Chromium: install Debian's chromium package or set CHROMIUM=/path/to/chromium"; exit 1; }

test: test-python test-web

test-python: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-web: setup setup-web chromium
	cd $(WEB) && CHROMIUM_PATH=$(CHROMIUM) C2FDAN_PYTHON=$(abspath $(BIN))/python npm test

# The main job: train, evaluate and export on the built-in synthetic faces into runs/demo/.
demo: setup
	$(BIN)/python demo.py --workdir=runs/demo

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache $(WEB)/node_modules $(WEB)/dist $(WEB)/test-artifacts \
	  $(FACE_MODELS)/node_modules
